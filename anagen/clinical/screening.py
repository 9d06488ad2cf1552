"""Candidacy screening: input document → decision, earliest date and findings.

The rules, thresholds and washout windows live in ``data/screening.json``; this module parses the
input strictly and interprets each rule ``kind``. Decision precedence follows the rule levels'
ranks: contraindicated > not_indicated > defer > review > eligible.

Every finding names what triggered it (the substance, the age, the SALT, the drug) and lists the
inputs it read (``inputs``: label -> value as given); an override is bound to those inputs.
Impossible input (platelets of 5,000,000/uL, a male patient flagged pregnant, a last dose after
the planned day or after today) is a ``ValidationError``, never a screening result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from anagen.clinical import inputs as inp
from anagen.clinical.datafiles import load
from anagen.clinical.dates import add_months
from anagen.clinical.errors import ValidationError
from anagen.clinical.references import format_reference
from anagen.clinical.vocabularies import (
    CONDITIONS,
    DIAGNOSES,
    EVENT_TYPES,
    MEDICATION_CATEGORIES,
    PRIOR_TREATMENTS,
    PROCEDURES,
    SEXES,
)

DECISIONS = ("contraindicated", "not_indicated", "defer", "review", "eligible")
_LEVELS: dict[str, dict[str, Any]] = load("screening")["levels"]


@dataclass(frozen=True)
class Medication:
    category: str
    name: str
    last_dose_on: date | None
    prescribed: bool


@dataclass(frozen=True)
class Event:
    type: str
    on: date


@dataclass(frozen=True)
class Allergy:
    substance: str
    reaction: str = ""


@dataclass(frozen=True)
class ScreeningInput:
    procedure: str
    planned_on: date
    birth_date: date | None = None
    sex: str | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    smoker: bool = False
    diagnosis: str | None = None
    follicles_present: bool | None = None
    salt: float | None = None
    conditions: frozenset[str] = frozenset()
    medications: tuple[Medication, ...] = ()
    events: tuple[Event, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    labs: Mapping[str, float] = field(default_factory=dict)
    labs_taken_on: date | None = None
    first_line_tried: frozenset[str] = frozenset()

    @property
    def site(self) -> str:
        return str(PROCEDURES[self.procedure]["site"])

    @property
    def procedure_kind(self) -> str:
        return str(PROCEDURES[self.procedure]["kind"])

    @property
    def age(self) -> int | None:
        """Completed years on the planned day."""
        if self.birth_date is None:
            return None
        b, p = self.birth_date, self.planned_on
        return p.year - b.year - ((p.month, p.day) < (b.month, b.day))


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    message: str
    source: str
    # Only deferrals use these: the day the deferral ends, and whether it has a date at all.
    until: date | None = None
    # The inputs this finding read, as "label: value" (an override is bound to them).
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "source": self.source,
            "inputs": dict(self.inputs),
        }


@dataclass(frozen=True)
class ScreeningResult:
    decision: str
    earliest_on: date | None
    ruleset: str
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "earliest_on": self.earliest_on.isoformat() if self.earliest_on else None,
            "ruleset": self.ruleset,
            "findings": [f.to_json() for f in self.findings],
        }


# --- input ---------------------------------------------------------------------------------

_TOP = (
    "procedure",
    "planned_on",
    "patient",
    "diagnosis",
    "conditions",
    "medications",
    "events",
    "allergies",
    "labs",
    "first_line_tried",
)
_LAB_KEYS = ("platelets_per_uL", "hemoglobin_g_dL")
LAB_LABELS = {"platelets_per_uL": "Platelets (/uL)", "hemoglobin_g_dL": "Haemoglobin (g/dL)"}


def _plausible(name: str, value: object, path: str) -> float:
    """A number inside ``plausible_ranges`` of the ruleset; anything else is impossible input."""
    spec = load("screening")["plausible_ranges"][name]
    number = inp.as_number(value, path, minimum=spec.get("at_least"), maximum=spec["at_most"])
    if "above" in spec and number <= spec["above"]:
        raise ValidationError(path, f"must be greater than {spec['above']}, got {value!r}")
    return number


def lab_implausible(lab: str, value: float) -> str | None:
    """Why a lab value (``platelets_per_uL``, ``hemoglobin_g_dL``) is impossible, or None."""
    spec = load("screening")["plausible_ranges"].get(lab)
    if spec is None:
        return None
    if ("above" in spec and value <= spec["above"]) or value > spec["at_most"]:
        low = f"above {_fmt(spec['above'])}" if "above" in spec else f"at least {spec['at_least']}"
        return f"not a possible value (expected {low} and at most {_fmt(spec['at_most'])})"
    return None


def _not_future(value: date, path: str, planned_on: date, today: date | None) -> date:
    if value > planned_on:
        raise ValidationError(path, "must not be after planned_on")
    if today is not None and value > today:
        raise ValidationError(path, "must not be in the future")
    return value


def parse_screening_input(doc: object, *, today: date | None = None) -> ScreeningInput:
    """Validate a screening document; ``planned_on`` defaults to today.

    Dates of doses, events and labs must not be after ``planned_on`` and, when ``today`` is
    given (the CLI and the clinic pass it), not after today either.
    """
    top = inp.as_object(doc, "", _TOP)
    procedure = inp.as_code(inp.get(top, "procedure"), "procedure", PROCEDURES)
    raw_planned = inp.get(top, "planned_on", None)
    planned_on = (
        inp.as_date(raw_planned, "planned_on") if raw_planned is not None else today or date.today()
    )

    patient = inp.as_object(
        inp.get(top, "patient", {}),
        "patient",
        ("birth_date", "sex", "pregnant", "breastfeeding", "smoker"),
    )
    birth = patient.get("birth_date")
    birth_date = inp.as_date(birth, "patient.birth_date") if birth is not None else None
    if birth_date and birth_date > planned_on:
        raise ValidationError("patient.birth_date", "must not be after planned_on")
    raw_sex = patient.get("sex")
    sex = inp.as_code(raw_sex, "patient.sex", SEXES) if raw_sex is not None else None
    flags = {
        k: inp.as_bool(patient[k], f"patient.{k}") if patient.get(k) is not None else False
        for k in ("pregnant", "breastfeeding", "smoker")
    }
    if sex == "male" and flags["pregnant"]:
        raise ValidationError("patient.pregnant", "a patient recorded as male cannot be pregnant")

    diagnosis_doc = inp.as_object(
        inp.get(top, "diagnosis", {}), "diagnosis", ("code", "follicles_present", "salt")
    )
    diagnosis = diagnosis_doc.get("code")
    follicles = diagnosis_doc.get("follicles_present")
    raw_salt = diagnosis_doc.get("salt")

    conditions = [
        inp.as_code(c, f"conditions[{i}]", CONDITIONS)
        for i, c in enumerate(inp.as_list(inp.get(top, "conditions", []), "conditions"))
    ]
    tried = [
        inp.as_code(t, f"first_line_tried[{i}]", PRIOR_TREATMENTS)
        for i, t in enumerate(inp.as_list(inp.get(top, "first_line_tried", []), "first_line_tried"))
    ]
    labs_doc = inp.as_object(inp.get(top, "labs", {}), "labs", (*_LAB_KEYS, "taken_on"))
    labs = {
        k: _plausible(k, v, f"labs.{k}")
        for k, v in labs_doc.items()
        if v is not None and k != "taken_on"
    }
    raw_taken = labs_doc.get("taken_on")
    taken_on = (
        _not_future(inp.as_date(raw_taken, "labs.taken_on"), "labs.taken_on", planned_on, today)
        if raw_taken is not None
        else None
    )

    return ScreeningInput(
        procedure=procedure,
        planned_on=planned_on,
        birth_date=birth_date,
        sex=sex,
        pregnant=flags["pregnant"],
        breastfeeding=flags["breastfeeding"],
        smoker=flags["smoker"],
        diagnosis=(
            inp.as_code(diagnosis, "diagnosis.code", DIAGNOSES) if diagnosis is not None else None
        ),
        follicles_present=(
            inp.as_bool(follicles, "diagnosis.follicles_present") if follicles is not None else None
        ),
        salt=_plausible("salt", raw_salt, "diagnosis.salt") if raw_salt is not None else None,
        conditions=frozenset(conditions),
        medications=tuple(_medications(inp.get(top, "medications", []), planned_on, today)),
        events=tuple(_events(inp.get(top, "events", []), planned_on, today)),
        allergies=tuple(_allergies(inp.get(top, "allergies", []))),
        labs=labs,
        labs_taken_on=taken_on,
        first_line_tried=frozenset(tried),
    )


def _medications(raw: object, planned_on: date, today: date | None) -> list[Medication]:
    result = []
    for i, item in enumerate(inp.as_list(raw, "medications")):
        path = f"medications[{i}]"
        med = inp.as_object(item, path, ("category", "name", "last_dose_on", "prescribed"))
        category = inp.as_code(
            inp.get(med, "category", parent=path), f"{path}.category", MEDICATION_CATEGORIES
        )
        name = med.get("name")
        last = med.get("last_dose_on")
        prescribed = med.get("prescribed")
        result.append(
            Medication(
                category=category,
                name=(
                    inp.as_text(name, f"{path}.name")
                    if name is not None
                    else str(MEDICATION_CATEGORIES[category]["label"]).split(" (")[0]
                ),
                last_dose_on=_not_future(
                    inp.as_date(last, f"{path}.last_dose_on"),
                    f"{path}.last_dose_on",
                    planned_on,
                    today,
                )
                if last is not None
                else None,
                # Not stated = not prescribed: the stricter rules (deferrals) apply.
                prescribed=inp.as_bool(prescribed, f"{path}.prescribed")
                if prescribed is not None
                else False,
            )
        )
    return result


def _events(raw: object, planned_on: date, today: date | None) -> list[Event]:
    result = []
    for i, item in enumerate(inp.as_list(raw, "events")):
        path = f"events[{i}]"
        event = inp.as_object(item, path, ("kind", "type", "on"))
        # "kind" is the contract's name; "type" is still read from older documents.
        key = "kind" if "kind" in event or "type" not in event else "type"
        if "kind" in event and "type" in event:
            raise ValidationError(f"{path}.type", "give kind only")
        on = inp.as_date(inp.get(event, "on", parent=path), f"{path}.on")
        result.append(
            Event(
                type=inp.as_code(inp.get(event, key, parent=path), f"{path}.{key}", EVENT_TYPES),
                on=_not_future(on, f"{path}.on", planned_on, today),
            )
        )
    return result


def _allergies(raw: object) -> list[Allergy]:
    result = []
    for i, item in enumerate(inp.as_list(raw, "allergies")):
        path = f"allergies[{i}]"
        allergy = inp.as_object(item, path, ("substance", "reaction"))
        substance = inp.as_text(inp.get(allergy, "substance", parent=path), f"{path}.substance")
        reaction = allergy.get("reaction")
        result.append(
            Allergy(
                substance=" ".join(substance.split()),
                reaction=(
                    " ".join(inp.as_text(reaction, f"{path}.reaction").split())
                    if reaction not in (None, "")
                    else ""
                ),
            )
        )
    return result


# --- rules -----------------------------------------------------------------------------------


def ruleset_id() -> str:
    data = load("screening")
    return f"{data['name']}@{data['version']}"


def _applies(rule: dict[str, Any], subject: ScreeningInput) -> bool:
    if "sites" in rule and subject.site not in rule["sites"]:
        return False
    return "procedure_kinds" not in rule or subject.procedure_kind in rule["procedure_kinds"]


def evaluate(subject: ScreeningInput) -> ScreeningResult:
    """Apply every rule of the ruleset; findings are ordered by severity, then ruleset order."""
    data = load("screening")
    findings: list[Finding] = []
    claimed: set[str] = set()  # allergies already named by a specific rule
    for rule in data["rules"]:
        if not _applies(rule, subject):
            continue
        found = _apply(rule, subject, data, claimed)
        if rule["kind"] == "allergy":
            claimed.update(str(f.inputs["Allergy"]) for f in found)
        findings.extend(found)
    findings.sort(key=lambda f: _LEVELS[f.level]["rank"])  # stable: keeps ruleset order
    decision = decide(f.level for f in findings)
    return ScreeningResult(
        decision=decision,
        # A date is only meaningful for a deferral: never for contraindicated/not indicated.
        earliest_on=earliest_on(findings) if decision == "defer" else None,
        ruleset=ruleset_id(),
        findings=tuple(findings),
    )


def decide(levels: Any) -> str:
    """The decision of the most serious level present (``eligible`` when none)."""
    ranked = sorted((_LEVELS[level] for level in levels), key=lambda lv: lv["rank"])
    return str(ranked[0]["decision"]) if ranked else str(load("screening")["default_decision"])


def earliest_on(findings: list[Finding] | tuple[Finding, ...]) -> date | None:
    """The day every deferral has passed; None if there is none or one has no date."""
    deferrals = [f for f in findings if f.level == "defer"]
    if not deferrals or any(f.until is None for f in deferrals):
        return None
    return max(f.until for f in deferrals if f.until is not None)


def _finding(
    rule: dict[str, Any],
    template: str | None = None,
    *,
    ends_on: date | None = None,
    inputs: Mapping[str, Any] | None = None,
    **values: Any,
) -> Finding:
    if ends_on is not None:
        values["until"] = ends_on.isoformat()
    text = (template or rule["message"]).format(**values)
    return Finding(
        rule=rule["id"],
        level=rule["level"],
        message=text,
        source=rule_source(rule),
        # Deferrals carry their end; other levels never feed earliest_on.
        until=ends_on if rule["level"] == "defer" else None,
        inputs=dict(inputs or {}),
    )


def reference_text(reference_id: str) -> str:
    """A reference of ``data/references.json`` as staff read it: authors (year). Title. Where."""
    text = format_reference(load("references")["references"][reference_id])
    return text.replace("?.", "?").replace("!.", "!")


def rule_source(rule: dict[str, Any]) -> str:
    """The references a rule rests on, in words ("Le QD (2018). What are …? Medscape.")."""
    return "; ".join(reference_text(r) for r in rule["references"])


def source_for_rule(rule_id: str) -> str:
    """The references of every rule with this id (some ids have one rule per procedure kind)."""
    ids: list[str] = []
    for rule in load("screening")["rules"]:
        if rule["id"] == rule_id:
            ids.extend(r for r in rule["references"] if r not in ids)
    return "; ".join(reference_text(r) for r in ids)


def _threshold(data: dict[str, Any], name: str) -> float:
    return float(data["thresholds"][name]["value"])


def _fmt(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _prescribed_matches(rule: dict[str, Any], med: Medication) -> bool:
    wanted = rule.get("prescribed")
    return wanted is None or wanted == med.prescribed


def _window(rule: dict[str, Any]) -> str:
    if "washout_months" in rule:
        return f"{int(rule['washout_months'])} months"
    return f"{int(rule['washout_days'])} days"


def _window_end(rule: dict[str, Any], start: date) -> date:
    if "washout_months" in rule:
        return add_months(start, int(rule["washout_months"]))
    return start + timedelta(days=int(rule["washout_days"]))


def _med_inputs(m: Medication) -> dict[str, Any]:
    label = str(MEDICATION_CATEGORIES[m.category]["label"]).split(" (")[0]
    return {
        f"{m.name} ({label})": {
            "last dose": m.last_dose_on.isoformat() if m.last_dose_on else "taken currently",
            "prescribed": m.prescribed,
        }
    }


def _reaction(a: Allergy) -> str:
    return f" ({a.reaction})" if a.reaction else ""


def _allergy_inputs(a: Allergy) -> dict[str, Any]:
    return {"Allergy": a.substance, "Reaction": a.reaction}


def _apply(
    rule: dict[str, Any], s: ScreeningInput, data: dict[str, Any], claimed: set[str]
) -> list[Finding]:
    kind = rule["kind"]
    if kind == "condition":
        code = rule["condition"]
        return (
            [_finding(rule, inputs={"Condition": CONDITIONS[code]["label"]})]
            if code in s.conditions
            else []
        )
    if kind == "patient_flag":
        flag = rule["flag"]
        return [_finding(rule, inputs={flag.capitalize(): True})] if getattr(s, flag) else []
    if kind == "lab_below":
        lab = rule["lab"]
        value = s.labs.get(lab)
        if value is None:
            return []
        threshold = _threshold(data, rule["threshold"])
        floor = _threshold(data, rule["at_least"]) if "at_least" in rule else None
        if value < threshold and (floor is None or value >= floor):
            return [
                _finding(
                    rule,
                    value=_fmt(value),
                    threshold=_fmt(threshold),
                    inputs={LAB_LABELS[lab]: value},
                )
            ]
        return []
    if kind == "anaemia_mild":
        value = s.labs.get("hemoglobin_g_dL")
        if value is None:
            return []
        male = s.sex == "male"
        threshold = _threshold(
            data,
            "mild_anaemia_hemoglobin_g_dL_male" if male else "mild_anaemia_hemoglobin_g_dL_other",
        )
        moderate = _threshold(data, "low_hemoglobin_g_dL")
        if moderate <= value < threshold:
            group = "men" if male else "women (and when sex is not recorded as male)"
            return [
                _finding(
                    rule,
                    value=_fmt(value),
                    threshold=_fmt(threshold),
                    group=group,
                    inputs={LAB_LABELS["hemoglobin_g_dL"]: value, "Sex": s.sex or "not recorded"},
                )
            ]
        return []
    if kind == "labs_stale":
        if s.labs_taken_on is None or not s.labs:
            return []
        limit = int(_threshold(data, rule["threshold"]))
        age_days = (s.planned_on - s.labs_taken_on).days
        if age_days > limit:
            return [
                _finding(
                    rule,
                    on=s.labs_taken_on.isoformat(),
                    age_days=age_days,
                    threshold=limit,
                    inputs={"Lab date": s.labs_taken_on.isoformat()},
                )
            ]
        return []
    if kind == "age_below":
        age = s.age
        threshold = int(_threshold(data, rule["threshold"]))
        if age is not None and age < threshold:
            return [
                _finding(
                    rule,
                    age=age,
                    threshold=threshold,
                    inputs={"Date of birth": s.birth_date.isoformat() if s.birth_date else None},
                )
            ]
        return []
    if kind == "diagnosis":
        if s.diagnosis is not None and s.diagnosis in rule["diagnoses"]:
            label = DIAGNOSES[s.diagnosis]["label"]
            return [_finding(rule, diagnosis=label, inputs={"Diagnosis": label})]
        return []
    if kind == "salt_at_least":
        threshold = _threshold(data, rule["threshold"])
        if s.diagnosis in rule["diagnoses"] and s.salt is not None and s.salt >= threshold:
            label = DIAGNOSES[str(s.diagnosis)]["label"]
            return [
                _finding(
                    rule,
                    diagnosis=label,
                    salt=_fmt(round(s.salt, 1)),
                    threshold=_fmt(threshold),
                    inputs={"Diagnosis": label, "SALT": s.salt},
                )
            ]
        return []
    if kind == "follicles_absent":
        return (
            [_finding(rule, inputs={"Living follicles": False})]
            if s.follicles_present is False
            else []
        )
    if kind == "follicles_unknown":
        if s.diagnosis in rule["diagnoses"] and s.follicles_present is None:
            label = DIAGNOSES[str(s.diagnosis)]["label"]
            return [
                _finding(
                    rule,
                    diagnosis=label,
                    inputs={"Diagnosis": label, "Living follicles": "not recorded"},
                )
            ]
        return []
    if kind == "first_line_missing":
        first_line = data["first_line_for_alopecia_areata"]
        if s.diagnosis in rule["diagnoses"] and not s.first_line_tried & set(first_line):
            labels = " or ".join(str(PRIOR_TREATMENTS[c]["label"]).lower() for c in first_line)
            return [
                _finding(
                    rule,
                    first_line=labels,
                    inputs={
                        "Diagnosis": DIAGNOSES[str(s.diagnosis)]["label"],
                        "First-line treatment tried": False,
                    },
                )
            ]
        return []
    if kind == "procedure_kind":
        if s.procedure_kind in rule["procedure_kinds"]:
            return [_finding(rule, inputs={"Procedure": PROCEDURES[s.procedure]["label"]})]
        return []
    if kind == "allergy":
        words = [w.lower() for w in rule["substances"]]
        return [
            _finding(rule, substance=a.substance, reaction=_reaction(a), inputs=_allergy_inputs(a))
            for a in s.allergies
            if any(w in a.substance.lower() for w in words)
        ]
    if kind == "allergy_other":
        return [
            _finding(rule, substance=a.substance, reaction=_reaction(a), inputs=_allergy_inputs(a))
            for a in s.allergies
            if a.substance not in claimed
        ]
    if kind == "medication_present":
        return [
            _finding(rule, name=m.name, inputs=_med_inputs(m))
            for m in s.medications
            if m.category in rule["categories"] and _prescribed_matches(rule, m)
        ]
    if kind == "medication_washout":
        window = _window(rule)
        found = []
        for m in s.medications:
            if m.category not in rule["categories"] or not _prescribed_matches(rule, m):
                continue
            if m.last_dose_on is None:  # taken currently: the washout has not started
                found.append(
                    _finding(
                        rule,
                        rule.get("message_current"),
                        name=m.name,
                        window=window,
                        inputs=_med_inputs(m),
                    )
                )
                continue
            until = _window_end(rule, m.last_dose_on)
            if s.planned_on < until:  # past the window: history, not current therapy
                found.append(
                    _finding(
                        rule,
                        ends_on=until,
                        name=m.name,
                        last=m.last_dose_on.isoformat(),
                        window=window,
                        until=until.isoformat(),
                        inputs=_med_inputs(m),
                    )
                )
        return found
    if kind == "event_washout":
        window = _window(rule)
        found = []
        for e in s.events:
            until = _window_end(rule, e.on)
            if e.type == rule["event"] and s.planned_on < until:
                label = str(EVENT_TYPES[e.type]["label"])
                found.append(
                    _finding(
                        rule,
                        ends_on=until,
                        on=e.on.isoformat(),
                        window=window,
                        inputs={label: e.on.isoformat()},
                    )
                )
        return found
    raise RuntimeError(f"screening rule {rule['id']}: unknown kind {kind!r}")


def screen(doc: object, *, today: date | None = None) -> dict[str, Any]:
    """Screen one JSON-shaped document; returns the JSON-shaped result (see the CLI)."""
    return evaluate(parse_screening_input(doc, today=today)).to_json()
