"""The kernel is pure Python: no module under anagen/clinical imports Django."""

from __future__ import annotations

import ast
from pathlib import Path

KERNEL = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_kernel_modules_are_found() -> None:
    modules = list(KERNEL.rglob("*.py"))
    assert len(modules) > 10
    assert KERNEL / "screening.py" in modules


def test_no_module_imports_django() -> None:
    offenders = {
        str(path.relative_to(KERNEL)): sorted(
            m for m in imported_modules(path) if m == "django" or m.startswith("django.")
        )
        for path in KERNEL.rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_detector_sees_django_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom django.db import models\nimport django.conf as c\n")
    assert {"django.db", "django.conf"} <= imported_modules(sample)
