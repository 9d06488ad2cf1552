"""The shape of the house, checked on the source: decisions by permission, ORM behind selectors.

- No role comparisons outside the permission table: no `role == …`, `role != …`, `role in …`,
  `Role.PHYSICIAN`-style members, role sets (`PLAN_ROLES`) or role strings ("physician",
  'front_desk' …) in any services, selectors, views, api or templatetags module, nor in any
  template. Models, migrations, demo data, tests and `accounts/permissions.py` (the one table)
  may name roles. A role is shown with `get_role_display`, never compared.
- Views and API handlers reach the ORM only through selectors and services: no `.objects` in any
  views.py or api.py.

Each file is its own test case, so a failure names the file and the lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the anagen package

ROLE_CODES = ("physician", "nurse", "front_desk", "clinic_admin")
PY_ROLE_PATTERNS = [
    re.compile(r"\brole\s*(==|!=)"),
    re.compile(r"(==|!=)\s*[\w.]*\brole\b(?!_)"),
    # Checking input against the list of roles (staff forms) is validation, not a decision.
    re.compile(r"\brole\s+(not\s+)?in\b(?!\s+Role\.values)"),
    re.compile(r"\bRole\.(PHYSICIAN|NURSE|FRONT_DESK|CLINIC_ADMIN)\b"),
    re.compile(r"\b[A-Z_]*_ROLES\b"),
    re.compile("[\"'](" + "|".join(ROLE_CODES) + ")[\"']"),
]
TEMPLATE_ROLE_PATTERNS = [
    re.compile(r"\brole\s*(==|!=)"),
    re.compile(r"(==|!=)\s*[\w.]*\brole\b"),
    re.compile(r"\brole\s+(not\s+)?in\b"),
    re.compile("[\"'](" + "|".join(ROLE_CODES) + ")[\"']"),
    re.compile(r"\bis_physician\b|\bis_nurse\b|\bis_admin\b"),
]
LAYER_FILES = {"services.py", "selectors.py", "views.py", "api.py"}
ALLOWED = {"accounts/permissions.py"}


def _excluded(rel: str) -> bool:
    parts = rel.split("/")
    return (
        rel in ALLOWED
        or "migrations" in parts
        or "tests" in parts
        or parts[-1] in {"models.py", "demo.py"}
        or parts[-1].startswith("test_")
    )


def _layer_modules() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        parts = rel.split("/")
        in_layer = parts[-1] in LAYER_FILES or any(
            p in {"services", "selectors", "templatetags"} for p in parts[:-1]
        )
        if in_layer and not _excluded(rel):
            found.append(rel)
    return found


def _templates() -> list[str]:
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*.html")
        if "templates" in p.relative_to(ROOT).parts
        and not _excluded(p.relative_to(ROOT).as_posix())
    )


def _offences(rel: str, patterns: list[re.Pattern[str]]) -> list[str]:
    lines = (ROOT / rel).read_text(encoding="utf-8").splitlines()
    hits = []
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0] if rel.endswith(".py") else line
        if any(p.search(code) for p in patterns):
            hits.append(f"{rel}:{number}: {line.strip()}")
    return hits


def test_the_walk_finds_the_layers():
    modules = _layer_modules()
    assert "care/services/assessments.py" in modules and "patients/views.py" in modules
    assert "accounts/permissions.py" not in modules
    assert "templates/base.html" in _templates()


@pytest.mark.parametrize("rel", _layer_modules())
def test_no_role_comparisons_in_code(rel: str) -> None:
    hits = _offences(rel, PY_ROLE_PATTERNS)
    assert not hits, "Decide by permission (actor.require/can), not by role:\n" + "\n".join(hits)


@pytest.mark.parametrize("rel", _templates())
def test_no_role_comparisons_in_templates(rel: str) -> None:
    hits = _offences(rel, TEMPLATE_ROLE_PATTERNS)
    assert not hits, "Templates read actor.perms.x, not roles:\n" + "\n".join(hits)


ORM_IN_VIEW = re.compile(r"\b[A-Z]\w*\.(objects|all_objects|_default_manager)\b")


@pytest.mark.parametrize(
    "rel", [r for r in _layer_modules() if r.rsplit("/", 1)[-1] in {"views.py", "api.py"}]
)
def test_views_and_api_reach_the_orm_through_selectors_and_services(rel: str) -> None:
    hits = _offences(rel, [ORM_IN_VIEW])
    assert not hits, "Use a selector or a service:\n" + "\n".join(hits)


def test_the_rules_catch_what_they_should():
    samples = [
        "if actor.role != Role.PHYSICIAN:",
        "ok = request.actor.role in services.BOOKING_ROLES",
        'membership.role == "physician"',
        "roles = ('front_desk',)",
    ]
    for sample in samples:
        assert any(p.search(sample) for p in PY_ROLE_PATTERNS), sample
    for fine in (
        "actor.require(Perm.SESSION_SIGN)",
        "role = forms.ChoiceField(choices=Role.choices)",
    ):
        assert not any(p.search(fine) for p in PY_ROLE_PATTERNS), fine
    assert TEMPLATE_ROLE_PATTERNS[0].search("{% if actor.role == 'nurse' %}")
    assert not any(
        p.search("{{ actor.membership.get_role_display }}") for p in TEMPLATE_ROLE_PATTERNS
    )
