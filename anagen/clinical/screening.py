"""Candidacy screening: input document → decision, earliest date and findings.

The rules, thresholds and washout windows live in ``data/screening.json``; this module parses the
input strictly and interprets each rule ``kind``. Decision precedence follows the rule levels'
ranks: contraindicated > not_indicated > defer > review > eligible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from anagen.clinical import inputs as inp
from anagen.clinical.datafiles import load
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
    conditions: frozenset[str] = frozenset()
    medications: tuple[Medication, ...] = ()
    events: tuple[Event, ...] = ()
    labs: Mapping[str, float] = field(default_factory=dict)
    first_line_tried: frozenset[str] = frozenset()

    @property
    def site(self) -> str:
        return str(PROCEDURES[self.procedure]["site"])

    @property
    def procedure_kind(self) -> str:
        return str(PROCEDURES[self.procedure]["kind"])


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    message: str
    source: str
    # Only deferrals use these: the day the deferral ends, and whether it has a date at all.
    until: date | None = None

    def to_json(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "source": self.source,
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
    "labs",
    "first_line_tried",
)
_LABS = {"platelets_per_uL": 10_000_000.0, "hemoglobin_g_dL": 30.0}  # upper bounds: impossible


def parse_screening_input(doc: object, *, today: date | None = None) -> ScreeningInput:
    """Validate a screening document; ``planned_on`` defaults to today."""
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
    sex = patient.get("sex")
    flags = {
        k: inp.as_bool(patient[k], f"patient.{k}") if patient.get(k) is not None else False
        for k in ("pregnant", "breastfeeding", "smoker")
    }

    diagnosis_doc = inp.as_object(
        inp.get(top, "diagnosis", {}), "diagnosis", ("code", "follicles_present")
    )
    diagnosis = diagnosis_doc.get("code")
    follicles = diagnosis_doc.get("follicles_present")

    conditions = [
        inp.as_code(c, f"conditions[{i}]", CONDITIONS)
        for i, c in enumerate(inp.as_list(inp.get(top, "conditions", []), "conditions"))
    ]
    tried = [
        inp.as_code(t, f"first_line_tried[{i}]", PRIOR_TREATMENTS)
        for i, t in enumerate(inp.as_list(inp.get(top, "first_line_tried", []), "first_line_tried"))
    ]
    labs_doc = inp.as_object(inp.get(top, "labs", {}), "labs", _LABS)
    labs = {
        k: inp.as_number(v, f"labs.{k}", maximum=_LABS[k])
        for k, v in labs_doc.items()
        if v is not None
    }

    return ScreeningInput(
        procedure=procedure,
        planned_on=planned_on,
        birth_date=birth_date,
        sex=inp.as_code(sex, "patient.sex", SEXES) if sex is not None else None,
        pregnant=flags["pregnant"],
        breastfeeding=flags["breastfeeding"],
        smoker=flags["smoker"],
        diagnosis=(
            inp.as_code(diagnosis, "diagnosis.code", DIAGNOSES) if diagnosis is not None else None
        ),
        follicles_present=(
            inp.as_bool(follicles, "diagnosis.follicles_present") if follicles is not None else None
        ),
        conditions=frozenset(conditions),
        medications=tuple(_medications(inp.get(top, "medications", []))),
        events=tuple(_events(inp.get(top, "events", []))),
        labs=labs,
        first_line_tried=frozenset(tried),
    )


def _medications(raw: object) -> list[Medication]:
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
                last_dose_on=inp.as_date(last, f"{path}.last_dose_on")
                if last is not None
                else None,
                prescribed=inp.as_bool(prescribed, f"{path}.prescribed")
                if prescribed is not None
                else False,
            )
        )
    return result


def _events(raw: object) -> list[Event]:
    result = []
    for i, item in enumerate(inp.as_list(raw, "events")):
        path = f"events[{i}]"
        event = inp.as_object(item, path, ("type", "on"))
        result.append(
            Event(
                type=inp.as_code(inp.get(event, "type", parent=path), f"{path}.type", EVENT_TYPES),
                on=inp.as_date(inp.get(event, "on", parent=path), f"{path}.on"),
            )
        )
    return result


# --- rules -----------------------------------------------------------------------------------


def ruleset_id() -> str:
    data = load("screening")
    return f"{data['name']}@{data['version']}"


def evaluate(subject: ScreeningInput) -> ScreeningResult:
    """Apply every rule of the ruleset; findings are ordered by severity, then ruleset order."""
    data = load("screening")
    findings: list[Finding] = []
    for rule in data["rules"]:
        if "sites" in rule and subject.site not in rule["sites"]:
            continue
        findings.extend(_apply(rule, subject, data))
    findings.sort(key=lambda f: _LEVELS[f.level]["rank"])  # stable: keeps ruleset order
    return ScreeningResult(
        decision=decide(f.level for f in findings),
        earliest_on=earliest_on(findings),
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
    rule: dict[str, Any], template: str | None = None, *, ends_on: date | None = None, **values: Any
) -> Finding:
    if ends_on is not None:
        values["until"] = ends_on.isoformat()
    text = (template or rule["message"]).format(**values)
    return Finding(
        rule=rule["id"], level=rule["level"], message=text, source=rule_source(rule), until=ends_on
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


def _apply(rule: dict[str, Any], s: ScreeningInput, data: dict[str, Any]) -> list[Finding]:
    kind = rule["kind"]
    if kind == "condition":
        return [_finding(rule)] if rule["condition"] in s.conditions else []
    if kind == "patient_flag":
        return [_finding(rule)] if getattr(s, rule["flag"]) else []
    if kind == "lab_below":
        value = s.labs.get(rule["lab"])
        if value is None:
            return []
        threshold = _threshold(data, rule["threshold"])
        floor = _threshold(data, rule["at_least"]) if "at_least" in rule else None
        if value < threshold and (floor is None or value >= floor):
            return [_finding(rule, value=_fmt(value), threshold=_fmt(threshold))]
        return []
    if kind == "diagnosis":
        if s.diagnosis is not None and s.diagnosis in rule["diagnoses"]:
            return [_finding(rule, diagnosis=DIAGNOSES[s.diagnosis]["label"])]
        return []
    if kind == "follicles_absent":
        return [_finding(rule)] if s.follicles_present is False else []
    if kind == "first_line_missing":
        first_line = data["first_line_for_alopecia_areata"]
        if s.diagnosis in rule["diagnoses"] and not s.first_line_tried & set(first_line):
            labels = " or ".join(str(PRIOR_TREATMENTS[c]["label"]).lower() for c in first_line)
            return [_finding(rule, first_line=labels)]
        return []
    if kind == "procedure_kind":
        return [_finding(rule)] if s.procedure_kind in rule["procedure_kinds"] else []
    if kind == "medication_present":
        return [
            _finding(rule, name=m.name)
            for m in s.medications
            if m.category in rule["categories"] and _prescribed_matches(rule, m)
        ]
    if kind == "medication_washout":
        days = int(rule["washout_days"])
        found = []
        for m in s.medications:
            if m.category not in rule["categories"] or not _prescribed_matches(rule, m):
                continue
            if m.last_dose_on is None:  # taken currently: the washout has not started
                found.append(_finding(rule, rule.get("message_current"), name=m.name, days=days))
                continue
            until = m.last_dose_on + timedelta(days=days)
            if s.planned_on < until:
                found.append(_finding(rule, ends_on=until, name=m.name, days=days))
        return found
    if kind == "event_washout":
        days = int(rule["washout_days"])
        found = []
        for e in s.events:
            until = e.on + timedelta(days=days)
            if e.type == rule["event"] and s.planned_on < until:
                found.append(_finding(rule, ends_on=until, on=e.on.isoformat(), days=days))
        return found
    raise RuntimeError(f"screening rule {rule['id']}: unknown kind {kind!r}")


def screen(doc: object, *, today: date | None = None) -> dict[str, Any]:
    """Screen one JSON-shaped document; returns the JSON-shaped result (see the CLI)."""
    return evaluate(parse_screening_input(doc, today=today)).to_json()
