"""The package's layout keeps its import rule: a stage imports only the stages below it.

Read from the source with :mod:`ast` (imports inside functions count too), so a lazy import
cannot hide a wrong-way dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "customer_tiering"

# Rank of each stage: a module may import its own stage and stages of a lower rank.
RANK = {
    "core": 0,
    "i18n": 1,
    "ingest": 1,
    "features": 2,
    "models": 3,
    "scoring": 4,
    "store": 4,
    "registry": 5,
    "training": 6,
    "rating": 6,
    "demo": 7,
    "engines": 7,
    "cli": 8,
    "api": 8,
    "web": 8,
}
MAX_MODULE_LINES = 450


def _stage(module: str) -> str | None:
    """``customer_tiering.scoring.blend`` -> ``scoring``; the package root has no stage."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "customer_tiering" else None


def _module_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``customer_tiering`` module this file imports, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "customer_tiering":
                found += [(node.lineno, f"customer_tiering.{a.name}") for a in node.names
                          if a.name in RANK]  # names like __version__ belong to the root
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith("customer_tiering")]


def wrong_way_imports(src: Path = SRC) -> list[str]:
    """``file:line imports X`` for every import from a higher stage (or a forbidden peer)."""
    problems = []
    for path in sorted(src.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        importer = _stage(_module_name(path, src))
        for line, imported in _imports(path):
            target = _stage(imported)
            if target is None or target == importer:
                continue
            if target not in RANK:
                problems.append(f"{path.relative_to(src)}:{line} imports unknown stage {imported}")
            elif importer is None:  # the package root: only core, so `import customer_tiering` is light
                if target != "core":
                    problems.append(f"{path.relative_to(src)}:{line} imports {imported}")
            elif RANK[target] >= RANK[importer] and RANK[importer] < RANK["cli"]:
                problems.append(f"{path.relative_to(src)}:{line} imports {imported}")
    return problems


def test_no_stage_imports_a_higher_or_peer_stage() -> None:
    assert wrong_way_imports() == []


def test_the_rule_catches_scoring_importing_training(tmp_path: Path) -> None:
    pkg = tmp_path / "customer_tiering"
    (pkg / "scoring").mkdir(parents=True)
    (pkg / "scoring" / "bad.py").write_text(
        "def f():\n    from customer_tiering.training.jobs import train_all\n")
    (pkg / "rating").mkdir()
    (pkg / "rating" / "also_bad.py").write_text("import customer_tiering.training.jobs\n")
    (pkg / "models").mkdir()
    (pkg / "models" / "fine.py").write_text("from customer_tiering.core import errors\n")
    assert wrong_way_imports(pkg) == [
        "rating/also_bad.py:1 imports customer_tiering.training.jobs",
        "scoring/bad.py:2 imports customer_tiering.training.jobs",
    ]


def test_every_subpackage_is_a_known_stage_with_a_docstring() -> None:
    for init in SRC.glob("*/__init__.py"):
        assert init.parent.name in RANK, init
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init


def test_no_module_is_over_the_line_limit() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


@pytest.mark.parametrize("heavy", ["fastapi", "mlflow", "pyspark"])
def test_importing_the_package_loads_no_heavy_framework(heavy: str) -> None:
    code = f"import sys, customer_tiering; print({heavy!r} in {{m.split('.')[0] for m in sys.modules}})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
