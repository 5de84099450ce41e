"""No user-visible English outside the catalogue: the client's scripts and index.html are scanned
for string literals a person would read (prose, capitalized words, text set on the page, labels,
titles, placeholders, toasts, errors), and each one found must be on the small allow-list below.

The scanner reads JavaScript well enough for this: comments, strings, template literals (their
${...} parts scanned too) and regular expressions are told apart, so a quote in a regex or a
URL in a comment is not mistaken for text. A new string in the client belongs in
web/static/js/messages/*.js (docs/architecture.md, "The client's words").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest

from tests.support.client_catalogue import STATIC

# (file, literal) pairs that are not words of the interface, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("js/api.js", "Content-Type"): "an HTTP header name",
    ("js/api.js", "Idempotency-Key"): "an HTTP header name",
    ("js/api.js", "Bearer {}"): "the Authorization scheme",
    ("js/call/precall_check.js", "Bearer {}"): "the Authorization scheme",
    ("js/views/organizer.js", "https://…"): "a URL's shape as a placeholder",
    ("js/call/chat_panel.js", "Enter"): "a KeyboardEvent key name",
    ("js/call/call_view.js", "Escape"): "a KeyboardEvent key name",
    ("js/sse.js", "Bearer {}"): "the Authorization scheme",
    ("index.html", "Duet"): "the product's name",
    ("index.html", "Duet needs JavaScript to run its video chats."): (
        "<noscript>: shown only when no script runs, so no catalogue can reach it"
    ),
}

KEY = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")
# An IANA time zone name ("Asia/Kolkata", "America/Argentina/Buenos_Aires"): a name, not words.
ZONE = re.compile(r"(?:[A-Z][A-Za-z_-]+/)+[A-Z][A-Za-z_+-]+")
# A standalone capitalized word ("Join", "Save"), not part of an identifier ("NotAllowedError").
CAPITALIZED = re.compile(r"(?<![A-Za-z0-9_$])[A-Z][a-z]+(?![A-Za-z0-9_$])")
PROSE = re.compile(r"[A-Za-z]{2,}[ ,;:!?'\u2019]+[A-Za-z]{2,}")
# Where any text at all is shown to a person, whatever its case.
VISIBLE_CONTEXT = re.compile(
    r"""(?:textContent|innerText|innerHTML|outerHTML|title|placeholder|alt)\s*\+?=\s*$"""
    r"""|['"]?(?:title|placeholder|alt|label|aria-label|aria-description)['"]?\s*:\s*$"""
    r"""|setAttribute\(\s*['"](?:title|placeholder|alt|aria-label)['"]\s*,\s*$"""
    r"""|\b(?:toast|alertBox|alert|confirm|prompt|emptyState|loading|createTextNode|Error)\(\s*$"""
    r"""|\bshowNotice\(\s*[\w.]+\s*,\s*$"""
)
# A child of h('tag', {...}, 'text'): words there are text even when they are all lowercase.
CHILD_CONTEXT = re.compile(r"\}\s*,\s*$")
# Class lists, ids, URLs and other machine words: lowercase, digits, dashes, slashes, {}.
MACHINE = re.compile(r"[a-z0-9_ {}./?=&:#-]+")
# Whose arguments are never shown: logs, module paths, DOM queries and events.
SILENT_CONTEXT = re.compile(
    r"""console\.\w+\([^)]*$|\bfrom\s*$|\bimport\s*\(?\s*$|querySelector(?:All)?\(\s*$"""
    r"""|closest\(\s*$|addEventListener\(\s*$|matchMedia\(\s*$|getElementById\(\s*$"""
)
REGEX_BEFORE = set("(,=:[!&|?{};+-*%<>~^") | {""}
REGEX_KEYWORDS = ("return", "typeof", "case", "of", "in", "void", "delete", "throw")


@dataclass(frozen=True)
class Literal:
    text: str  # a template's ${...} parts are "{}"
    line: int
    before: str  # the source on its line before it
    after: str  # the first character after it that is not a space


def _skip_string(src: str, i: int) -> int:
    quote = src[i]
    i += 1
    while src[i] != quote:
        i += 2 if src[i] == "\\" else 1
    return i + 1


def _skip_regex(src: str, i: int) -> int:
    i += 1
    in_class = False
    while True:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            break
        i += 1
    i += 1
    while i < len(src) and src[i].isalpha():
        i += 1
    return i


def _regex_allowed(src: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and src[j] in " \t\r\n":
        j -= 1
    if j < 0 or src[j] in REGEX_BEFORE:
        return True
    word = re.search(r"([A-Za-z_$]+)$", src[: j + 1])
    return bool(word and word.group(1) in REGEX_KEYWORDS)


def scan(src: str, start: int = 0, stop_at_brace: bool = False) -> tuple[list[Literal], int]:
    """Literals from src[start:]; with stop_at_brace, up to the `}` closing a ${...}."""
    found: list[Literal] = []
    i = start
    depth = 0
    while i < len(src):
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = len(src) if i < 0 else i
        elif src.startswith("/*", i):
            i = src.index("*/", i) + 2
        elif c in "'\"":
            end = _skip_string(src, i)
            found.append(_literal(src, i, end, _unescape(src[i + 1 : end - 1])))
            i = end
        elif c == "`":
            i = _template(src, i, found)
        elif c == "/" and _regex_allowed(src, i):
            i = _skip_regex(src, i)
        elif c == "{":
            depth += 1
            i += 1
        elif c == "}":
            if stop_at_brace and depth == 0:
                return found, i + 1
            depth -= 1
            i += 1
        else:
            i += 1
    return found, i


def _template(src: str, i: int, found: list[Literal]) -> int:
    start = i
    i += 1
    text: list[str] = []
    while src[i] != "`":
        if src[i] == "\\":
            text.append(src[i + 1])
            i += 2
        elif src.startswith("${", i):
            inner, i = scan(src, i + 2, stop_at_brace=True)
            found.extend(inner)
            text.append("{}")
        else:
            text.append(src[i])
            i += 1
    found.append(_literal(src, start, i + 1, "".join(text)))
    return i + 1


def _literal(src: str, at: int, end: int, text: str) -> Literal:
    line_start = src.rfind("\n", 0, at) + 1
    rest = src[end:].lstrip()
    return Literal(text, src.count("\n", 0, at) + 1, src[line_start:at], rest[:1])


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def user_visible(literal: Literal) -> bool:
    text = literal.text
    if not re.search(r"[A-Za-z]{2,}", text) or KEY.match(text) or ZONE.fullmatch(text):
        return False
    if SILENT_CONTEXT.search(literal.before):
        return False
    if literal.after == ":" and re.fullmatch(r"[\w-]+", text):
        return False  # an object's key ('aria-label': ...)
    if VISIBLE_CONTEXT.search(literal.before) or "…" in text or CAPITALIZED.search(text):
        return True
    if CHILD_CONTEXT.search(literal.before) and PROSE.search(text):
        return True
    return bool(PROSE.search(text)) and not MACHINE.fullmatch(text)


class _Html(HTMLParser):
    """Text nodes and label-like attributes of index.html, skipping [data-i18n] elements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.stack: list[bool] = []  # per open element: translated by data-i18n

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name in ("title", "aria-label", "placeholder", "alt"):
            if names.get(name):
                self.found.append(str(names[name]))
        if tag not in ("meta", "link", "script", "br", "img", "input"):
            self.stack.append("data-i18n" in names)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag not in ("meta", "link", "script", "br", "img", "input"):
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and re.search(r"[A-Za-z]", data) and not (self.stack and self.stack[-1]):
            self.found.append(data.strip())


def findings() -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for path in sorted((STATIC / "js").rglob("*.js")):
        name = str(path.relative_to(STATIC))
        if "messages" in path.parts:
            continue
        literals, _ = scan(path.read_text(encoding="utf-8"))
        out.extend((name, lit.line, lit.text) for lit in literals if user_visible(lit))
    parser = _Html()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    out.extend(("index.html", 0, text) for text in parser.found)
    return out


def test_no_user_visible_string_outside_the_catalogue() -> None:
    stray = [f for f in findings() if (f[0], f[2]) not in ALLOWED]
    assert not stray, "move these into web/static/js/messages/*.js:\n" + "\n".join(
        f"{name}:{line}: {text!r}" for name, line, text in stray
    )


def test_the_allow_list_has_no_stale_entries() -> None:
    seen = {(name, text) for name, _, text in findings()}
    assert not set(ALLOWED) - seen, sorted(set(ALLOWED) - seen)


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("h('button', {}, 'Join')", True),
        ("el.textContent = 'reconnecting';", True),
        ("h('input', { placeholder: 'e.g. initech' })", True),
        ("toast(`Sent to ${name}.`)", True),
        ("h('p', {}, 'Loading…')", True),
        ("h('span', {}, ' slots used')", True),
        ("el.setAttribute('aria-label', 'Chat messages')", True),
        ("if (!confirm('Leave the call?')) return;", True),
        (
            "h('button', { class: 'btn btn-primary', dataset: { action: 'send-chat' } }, t('chat.send'))",
            False,
        ),
        ("console.warn('negotiation failed', err);", False),
        ("const re = /\\bhttps?:\\/\\/[^\\s<>\"'`]+/gi; const x = 'ok';", False),
        ("// A comment with Words in it.\nconst y = 1;", False),
        ("if (err.name === 'NotAllowedError') return;", False),
        ("import { t } from './i18n.js';", False),
    ],
)
def test_the_scanner_flags_interface_text_and_nothing_else(line: str, flagged: bool) -> None:
    literals, _ = scan(line)
    assert any(user_visible(lit) for lit in literals) == flagged, literals
