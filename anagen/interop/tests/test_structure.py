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
APPS = ("patients", "care", "scheduling", "procedures", "outcomes", "audit")


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


# --- the OpenAPI document: every operation, field and body documented -------------------------

METHODS = {"get", "put", "post", "patch", "delete"}


def _document() -> dict:
    from anagen.api import api

    return api.get_openapi_schema()


def _operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _body_schemas(doc: dict, op: dict) -> list[tuple[str, dict, dict]]:
    """(media type, media object, the body's schema with its $ref resolved) per body media."""
    out = []
    for media_type, media in op.get("requestBody", {}).get("content", {}).items():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref:
            schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        out.append((media_type, media, schema))
    return out


def test_every_operation_has_a_description():
    doc = _document()
    missing = [f"{m} {p}" for m, p, op in _operations(doc) if not op.get("description")]
    assert missing == []
    assert len(_operations(doc)) >= 99  # the API grows; it never silently loses operations


def test_every_schema_property_and_parameter_has_a_description():
    doc = _document()
    missing = [
        f"{name}.{prop}"
        for name, schema in doc["components"]["schemas"].items()
        for prop, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    missing += [
        f"{m} {p} {param['in']}.{param['name']}"
        for m, p, op in _operations(doc)
        for param in op.get("parameters", [])
        if not param.get("description")
    ]
    # inline bodies (multipart uploads) describe their parts too
    missing += [
        f"{m} {p} body.{prop}"
        for m, p, op in _operations(doc)
        for _, media, _schema in _body_schemas(doc, op)
        for prop, spec in media.get("schema", {}).get("properties", {}).items()
        if not spec.get("description")
    ]
    assert missing == []


def test_every_request_body_has_a_valid_example():
    import jsonschema_rs

    doc = _document()
    missing, invalid = [], []
    for m, p, op in _operations(doc):
        for media_type, media, schema in _body_schemas(doc, op):
            examples = []
            if "example" in media:
                examples.append(media["example"])
            examples += [e.get("value") for e in media.get("examples", {}).values()]
            examples += schema.get("examples", [])
            if "example" in schema:
                examples.append(schema["example"])
            if not examples:
                missing.append(f"{m} {p} ({media_type})")
            if media_type != "application/json":
                continue  # a multipart example shows the parts; the file is bytes
            resolvable = {**schema, "components": doc["components"]}
            validator = jsonschema_rs.validator_for(resolvable)
            for example in examples:
                if not validator.is_valid(example):
                    invalid.append(f"{m} {p}: {list(validator.iter_errors(example))[:1]}")
    assert missing == []
    assert invalid == []


def test_every_operation_documents_the_problems_it_can_return():
    """401/403 for every operation (every one is authenticated and names a permission); 422 for
    any input; 404 for an id in the path or the body; 412/428 with If-Match; each one a
    problem document."""
    doc = _document()
    wrong = []
    for m, p, op in _operations(doc):
        responses = {int(code) for code in op["responses"]}
        expected = {401, 403}
        params = op.get("parameters", [])
        if params or "requestBody" in op:
            expected.add(422)
        names_ids = any(
            prop.endswith(("_id", "_ids"))
            for _, _, schema in _body_schemas(doc, op)
            for prop in schema.get("properties", {})
        )
        if any(x["in"] == "path" for x in params) or names_ids:
            expected.add(404)
        if any(x["in"] == "header" and x["name"] == "If-Match" for x in params):
            expected |= {412, 428}
        if expected - responses:
            wrong.append(f"{m} {p}: no {sorted(expected - responses)}")
        for code, response in op["responses"].items():
            if str(code).startswith("4"):
                content = response.get("content", {})
                if list(content) != ["application/problem+json"]:
                    wrong.append(f"{m} {p} {code}: not a problem document")
    assert wrong == []


def test_every_operation_is_authenticated():
    doc = _document()
    open_ops = [
        f"{m} {p}" for m, p, op in _operations(doc) if not op.get("security", doc.get("security"))
    ]
    assert open_ops == []
