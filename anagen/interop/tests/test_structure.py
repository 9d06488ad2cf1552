"""The shape of the API layer: `interop` imports no app, the root builds, handlers stay thin."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import anagen
import anagen.interop

ANAGEN = Path(anagen.__file__).parent
INTEROP = Path(anagen.interop.__file__).parent
# What interop may import from the project: users, tokens and the actor live in accounts.
ALLOWED = {"anagen.accounts", "anagen.interop"}
APPS = ("patients", "care", "scheduling", "procedures", "outcomes")


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "anagen" or name.startswith("anagen.")}


def _allowed(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in ALLOWED)


def test_every_interop_module_imports():
    names = [
        m.name
        for m in pkgutil.walk_packages([str(INTEROP)], "anagen.interop.")
        if ".tests" not in m.name and ".migrations" not in m.name
    ]
    assert "anagen.interop.errors" in names and "anagen.interop.problems" in names
    for name in names:
        importlib.import_module(name)


def test_interop_imports_no_app_but_accounts():
    offending = {}
    for path in INTEROP.rglob("*.py"):
        if "tests" in path.relative_to(INTEROP).parts or "migrations" in path.parts:
            continue
        bad = sorted(n for n in _project_imports(path) if not _allowed(n))
        if bad:
            offending[str(path.relative_to(ANAGEN))] = bad
    assert offending == {}


def test_routers_do_not_import_the_api_root():
    for app in APPS:
        imports = _project_imports(ANAGEN / app / "api.py")
        assert not {n for n in imports if n == "anagen.api" or n.startswith("anagen.api.")}, app


def test_api_root_builds_and_mounts_every_router():
    from anagen.api import api

    schema = api.get_openapi_schema()
    prefixes = {path.split("/")[3] for path in schema["paths"]}
    assert set(APPS) <= prefixes
    assert "Problem" in schema["components"]["schemas"]


def _handlers(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and isinstance(d.func.value, ast.Name)
            and d.func.value.id == "router"
            for d in node.decorator_list
        )
    ]


def test_every_handler_declares_its_permission():
    """Each handler names a `Perm` (through `api_actor(request, Perm.X)` or a helper of its
    module that does), and no api module compares roles."""
    missing = []
    for app in APPS:
        path = ANAGEN / app / "api.py"
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"\.role\b|INVENTORY_ROLES|Role\.", source), app
        tree = ast.parse(source)
        helpers = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and "api_actor(" in ast.unparse(node)
        }
        for handler in _handlers(path):
            body = ast.unparse(handler)
            if not re.search(r"api_actor\(request, Perm\.[A-Z_]+\)", body) and not any(
                f"{h}(request" in body for h in helpers
            ):
                missing.append(f"{app}.{handler.name}")
    assert missing == []


def test_handlers_reach_the_orm_only_through_selectors_and_services():
    offending = []
    for path in sorted(ANAGEN.glob("*/api.py")) + sorted(ANAGEN.glob("*/views.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\.objects\b|_default_manager", line):
                offending.append(f"{path.relative_to(ANAGEN)}:{number}")
    assert offending == []
