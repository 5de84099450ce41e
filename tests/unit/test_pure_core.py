"""The scheduling domain's rules stay pure: no database, no network, no clock of their own.

Every module of `scheduling/` is a pure rule module except the storage (`db.py`, `schema.py`,
`store_*.py`, `migrations/`) and the clock (`clock.py`), so a new module is checked by default:
SQL belongs in a `store_` module (docs/architecture.md). Checked on the source, not by importing
it, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast

import pytest

from tests.support.app import REPO_ROOT

SCHEDULING = REPO_ROOT / "scheduling"
NOT_PURE = {"__init__.py", "clock.py", "db.py", "schema.py"}
PURE = sorted(
    p.name
    for p in SCHEDULING.glob("*.py")
    if p.name not in NOT_PURE and not p.name.startswith("store_")
)
# Packages that do I/O, and Duet's own storage modules.
FORBIDDEN = ("sqlalchemy", "alembic", "aiosqlite", "asyncpg", "redis", "aiohttp", "asyncio")
STORAGE = ("scheduling.db", "scheduling.schema", "scheduling.migrations", "scheduling.store_")
# Reading the time: pure rules take `now` as a parameter.
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic"}


def imported_modules(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.append(node.module)
    return found


def clock_reads(tree: ast.AST) -> list[str]:
    """Calls like `datetime.now()`, `date.today()`, `time.time()`."""
    return [
        f"{ast.unparse(node.func)}() on line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_READS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"datetime", "date", "time"}
    ]


def test_the_rule_modules_are_the_ones_expected() -> None:
    """A guard on the guard: if the glob found nothing, every check below would pass."""
    expected = {"chat_rules.py", "availability_rules.py", "event_rules.py", "states.py"}
    assert expected | {"join_window.py", "slots.py", "quota.py"} <= set(PURE)


@pytest.mark.parametrize("name", PURE)
def test_rule_module_imports_no_io(name: str) -> None:
    tree = ast.parse((SCHEDULING / name).read_text(), name)
    bad = [
        module
        for module in imported_modules(tree)
        if module.split(".")[0] in FORBIDDEN or module.startswith(STORAGE)
    ]
    assert bad == [], f"scheduling/{name} is a pure rule module but imports {bad}"


@pytest.mark.parametrize("name", PURE)
def test_rule_module_reads_no_clock(name: str) -> None:
    tree = ast.parse((SCHEDULING / name).read_text(), name)
    assert clock_reads(tree) == [], f"scheduling/{name} reads the time instead of taking `now`"
