"""Docs cannot drift: every file, `module.name` and `path.py:Name` the docs name in backticks
exists, so the next rename fails the build instead of misleading the next reader."""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest

from tests.support.app import REPO_ROOT

ROOT = REPO_ROOT
# The performance history names modules and functions as they were when it was measured.
HISTORY = ROOT / "docs" / "performance-history.md"
DOCS = sorted(
    p
    for p in [ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")]
    if p != HISTORY
)
PACKAGES = ("scheduling", "rooms", "signaling", "media", "notifications", "web", "tests", "bench")
# Paths that exist only at run time or on a deployed machine, never in the repository.
NOT_IN_REPO = ("var/", "artifacts/", ".venv/", "/", "~")
_TICKS = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)+/?(:[A-Za-z_][A-Za-z0-9_.]*)?$")
_DOTTED = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_BARE_FILE = re.compile(r"^[A-Za-z0-9_\-]+\.(py|js|md|toml|conf|cfg|ini|sh|css|html)$")
_MEMBER = re.compile(r"^([A-Z][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)(\(\))?$")


@cache
def _repo_files() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in ROOT.rglob("*"):
        if ".venv" in path.parts or "node_modules" in path.parts or ".git" in path.parts:
            continue
        found.setdefault(path.name, []).append(path)
    return found


@cache
def _classes() -> dict[str, list[Path]]:
    """Where each class of the repository's own packages is defined."""
    found: dict[str, list[Path]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    found.setdefault(node.name, []).append(path)
    return found


def _names(doc: Path) -> list[str]:
    return [m.group(1).strip() for m in _TICKS.finditer(doc.read_text())]


def _targets(stmt: ast.AST) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        return stmt.targets
    if isinstance(stmt, ast.AnnAssign):
        return [stmt.target]
    return []


@cache
def _defined(path: Path) -> set[str]:
    """Top-level names and Class.member names defined in a Python file."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        names.add(f"{node.name}.{item.name}")
                        if item.name == "__init__":  # attributes the constructor sets
                            names.update(
                                f"{node.name}.{t.attr}"
                                for stmt in ast.walk(item)
                                for t in _targets(stmt)
                                if isinstance(t, ast.Attribute)
                                and isinstance(t.value, ast.Name)
                                and t.value.id == "self"
                            )
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(f"{node.name}.{item.target.id}")
                    elif isinstance(item, ast.Assign):
                        names.update(
                            f"{node.name}.{t.id}" for t in item.targets if isinstance(t, ast.Name)
                        )
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


def _problem(name: str) -> str | None:
    """Why `name` (as written in a doc) does not exist, or None if it does or is not a name of
    this repository."""
    if name.startswith(NOT_IN_REPO) or "://" in name or " " in name:
        return None
    if _PATH.match(name):
        path, _, member = name.partition(":")
        if path.split("/")[0] not in {p.name for p in ROOT.iterdir()}:
            return None  # e.g. /etc/... written without the slash, or a URL path
        if not (ROOT / path).exists():
            return f"{path} does not exist"
        if member and member not in _defined(ROOT / path):
            return f"{path} defines no {member}"
        return None
    if _BARE_FILE.match(name):
        return None if name in _repo_files() else f"no file named {name}"
    if member := _MEMBER.match(name):
        cls, attr = member.group(1), member.group(2)
        homes = _classes().get(cls)
        if homes and not any(f"{cls}.{attr}" in _defined(p) for p in homes):
            return f"{cls} has no {attr}"
        return None
    if _DOTTED.match(name) and name.split(".")[0] in PACKAGES:
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            try:
                found: object = importlib.import_module(module)
            except ImportError:
                continue
            for attr in parts[cut:]:
                if not hasattr(found, attr):
                    return f"{module} has no {'.'.join(parts[cut:])}"
                found = getattr(found, attr)
            return None
        return f"no module {name}"
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_name_in_backticks_exists(doc: Path) -> None:
    problems = sorted({p for n in _names(doc) if (p := _problem(n)) is not None})
    assert not problems, f"{doc.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_check_catches_a_rename() -> None:
    assert _problem("scheduling/store.py") == "scheduling/store.py does not exist"
    assert _problem("signaling.node.relay_now") is not None
    assert _problem("rooms/tickets.py:NoSuchThing") == "rooms/tickets.py defines no NoSuchThing"
    assert _problem("rooms/tickets.py:RoomPass") is None
    assert _problem("signaling.messages.Offer") is None
    assert _problem("store.py") == "no file named store.py"
    assert _problem("SignalingNode.relay_now") == "SignalingNode has no relay_now"
    assert _problem("SignalingNode.forward") is None
