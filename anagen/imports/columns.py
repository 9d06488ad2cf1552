"""What a patient file from another system can hold: our fields, the header names other
systems use for them (to guess the mapping), and reading one row into clean values.

Every problem with a row is reported as (field, message), so the page can name the row and the
column of the file it came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any

from anagen.patients import vocab
from anagen.patients.normalise import PhoneError, phone_to_e164

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    required: bool = False
    intake: bool = False
    # Header names (folded: lower case, letters and digits only) that mean this field.
    names: tuple[str, ...] = ()
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column(
        "external_id",
        "Their record id",
        names=(
            "id",
            "patientid",
            "externalid",
            "recordid",
            "recordnumber",
            "mrn",
            "chartnumber",
            "patientnumber",
            "clientid",
            "clientnumber",
            "patientno",
            "fileno",
        ),
        help="Used to recognise patients already imported.",
    ),
    Column(
        "given_name",
        "Given name",
        True,
        names=("givenname", "firstname", "forename", "first", "firstnames", "prenom", "vorname"),
    ),
    Column(
        "family_name",
        "Family name",
        True,
        names=("familyname", "lastname", "surname", "last", "nom", "nachname"),
    ),
    Column(
        "birth_date",
        "Date of birth",
        True,
        names=("birthdate", "dateofbirth", "dob", "birthday", "born", "geburtsdatum"),
    ),
    Column("sex", "Sex", True, names=("sex", "gender", "sexe", "geschlecht")),
    Column(
        "phone",
        "Phone",
        names=(
            "phone",
            "mobile",
            "telephone",
            "tel",
            "cell",
            "phonenumber",
            "mobilephone",
            "mobilenumber",
            "cellphone",
            "homephone",
        ),
    ),
    Column("email", "Email", names=("email", "emailaddress", "mail", "eMail")),
    Column("address", "Address", names=("address", "streetaddress", "homeaddress", "street")),
    Column("preferred_language", "Preferred language", names=("language", "preferredlanguage")),
    Column("smoking", "Smoking", intake=True, names=("smoking", "smoker", "smokingstatus")),
    Column(
        "hair_loss_onset",
        "Hair loss since",
        intake=True,
        names=("hairlossonset", "onset", "hairlosssince", "onsetdate"),
    ),
    Column(
        "hair_loss_pattern",
        "Hair loss pattern",
        intake=True,
        names=("hairlosspattern", "pattern", "hairloss"),
    ),
    Column(
        "family_history",
        "Family history of hair loss",
        intake=True,
        names=("familyhistory", "familyhistoryofhairloss", "hereditary"),
    ),
    Column(
        "intake_notes",
        "Intake notes",
        intake=True,
        names=("notes", "note", "comments", "comment", "remarks", "history"),
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}


def fold_header(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Our field -> their header, by name; each header used at most once."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    folded = {h: fold_header(h) for h in headers}
    for column in COLUMNS:
        names = {fold_header(n) for n in column.names} | {fold_header(column.label)}
        for header in headers:
            if header not in used and folded[header] in names:
                mapping[column.key] = header
                used.add(header)
                break
    return mapping


class FileError(ValueError):
    """The upload is not a readable table (in words for the page)."""


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise FileError("The file is larger than 10 MB: split it and import each part.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileError("The file is not text: export it from the other system as CSV.")


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_table(text: str, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """Header row and data rows (blank lines skipped). FileError for what cannot be a table."""
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise FileError(f"The file is not a readable CSV table ({exc}).") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise FileError("The file is empty.")
    headers = [h.strip() for h in rows[0]]
    if len(set(headers)) != len(headers) or not all(headers):
        raise FileError("Every column needs a heading in the first row, each heading different.")
    if len(rows) - 1 > MAX_ROWS:
        raise FileError(f"The file has more than {MAX_ROWS:,} rows: split it.")
    if len(rows) == 1:
        raise FileError("The file has a heading row but no patients.")
    return headers, rows[1:]


# --- reading values -----------------------------------------------------------------------

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d %b %Y")
_SEX = {
    "f": "female",
    "female": "female",
    "w": "female",
    "woman": "female",
    "femme": "female",
    "m": "male",
    "male": "male",
    "man": "male",
    "homme": "male",
    "o": "other",
    "other": "other",
    "x": "other",
    "diverse": "other",
    "d": "other",
}
_YES = {"y", "yes", "true", "1", "x", "oui", "ja"}
_NO = {"n", "no", "false", "0", "", "non", "nein"}
_SMOKING = {
    "never": "never",
    "no": "never",
    "n": "never",
    "nonsmoker": "never",
    "none": "never",
    "former": "former",
    "ex": "former",
    "exsmoker": "former",
    "quit": "former",
    "current": "current",
    "yes": "current",
    "y": "current",
    "smoker": "current",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_date(text: str) -> dt.date | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def _pattern(text: str) -> str | None:
    folded = fold_header(text)
    for value, label in vocab.HairLossPattern.choices:
        if folded in (fold_header(str(value)), fold_header(str(label))) or fold_header(
            str(label)
        ).startswith(folded):
            return str(value)
    return None


@dataclass
class Row:
    """One row read into our fields, with its problems (field -> message)."""

    patient: dict[str, Any] = field(default_factory=dict)
    intake: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""
    problems: dict[str, str] = field(default_factory=dict)


def read_row(values: dict[str, str], *, region: str, today: dt.date) -> Row:
    """`values`: our field -> the cell's text (only mapped fields)."""
    row = Row()
    v = {k: (values.get(k) or "").strip() for k in BY_KEY}
    row.external_id = v["external_id"][:100]
    for name in ("given_name", "family_name"):
        text = " ".join(v[name].split())
        if not text:
            row.problems[name] = f"{BY_KEY[name].label} is missing."
        elif len(text) > 100:
            row.problems[name] = f"{BY_KEY[name].label} is longer than 100 characters."
        row.patient[name] = text
    if not v["birth_date"]:
        row.problems["birth_date"] = "Date of birth is missing."
    else:
        born = parse_date(v["birth_date"])
        if born is None:
            row.problems["birth_date"] = (
                f"“{v['birth_date'][:30]}” is not a date (use 1984-05-02 or 02/05/1984)."
            )
        elif born > today:
            row.problems["birth_date"] = "Date of birth is in the future."
        elif born < dt.date(1900, 1, 1):
            row.problems["birth_date"] = "Date of birth is before 1900."
        row.patient["birth_date"] = born
    sex = _SEX.get(v["sex"].casefold())
    if sex is None:
        row.problems["sex"] = (
            "Sex is missing."
            if not v["sex"]
            else f"“{v['sex'][:20]}” is not female, male or other."
        )
    row.patient["sex"] = sex
    try:
        row.patient["phone"] = phone_to_e164(v["phone"], region)
    except PhoneError as exc:
        row.problems["phone"] = f"“{v['phone'][:30]}”: {exc}"
    if v["email"] and (not _EMAIL.match(v["email"]) or len(v["email"]) > 254):
        row.problems["email"] = f"“{v['email'][:60]}” is not an email address."
    row.patient["email"] = v["email"]
    row.patient["address"] = v["address"][:1000]
    row.patient["preferred_language"] = (v["preferred_language"] or "en")[:35]
    _read_intake(v, row, today)
    return row


def _read_intake(v: dict[str, str], row: Row, today: dt.date) -> None:
    intake: dict[str, Any] = {}
    if v["smoking"]:
        smoking = _SMOKING.get(fold_header(v["smoking"]))
        if smoking is None:
            row.problems["smoking"] = f"“{v['smoking'][:20]}” is not never, former or current."
        intake["smoking"] = smoking
    if v["hair_loss_onset"]:
        onset = parse_date(v["hair_loss_onset"])
        if onset is None:
            row.problems["hair_loss_onset"] = f"“{v['hair_loss_onset'][:30]}” is not a date."
        elif onset > today:
            row.problems["hair_loss_onset"] = "Hair loss onset is in the future."
        intake["hair_loss_onset"] = onset
    if v["hair_loss_pattern"]:
        pattern = _pattern(v["hair_loss_pattern"])
        if pattern is None:
            labels = ", ".join(str(label).lower() for label in vocab.HairLossPattern.labels)
            row.problems["hair_loss_pattern"] = f"Not a pattern we know (use one of: {labels})."
        intake["hair_loss_pattern"] = pattern or ""
    if v["family_history"]:
        answer = v["family_history"].casefold()
        if answer not in _YES | _NO:
            row.problems["family_history"] = f"“{v['family_history'][:20]}”: answer yes or no."
        intake["family_history"] = answer in _YES
    if v["intake_notes"]:
        intake["notes"] = v["intake_notes"][:10000]
    row.intake = intake
