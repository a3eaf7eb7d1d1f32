"""bench/ measures the product through public modules only: it never imports the test suite."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_bench_never_imports_tests() -> None:
    files = sorted(BENCH.rglob("*.py"))
    assert files, "bench/ has Python files"
    offenders = {
        str(f.relative_to(BENCH.parent)): sorted(
            m for m in _imported_modules(f) if m == "tests" or m.startswith("tests.")
        )
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_check_sees_a_tests_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from tests.pg import postgres_server\n    import tests.node.sitekit\n")
    assert _imported_modules(sample) >= {"tests.pg", "tests.node.sitekit"}
