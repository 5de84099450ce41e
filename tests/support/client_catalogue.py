"""The browser client's message catalogues (web/static/js/messages/<code>.js), read from Python.

Each catalogue is `export default { ...JSON... };` after a header of `//` comments, so the
tests can check them without a JavaScript engine. A value is a string or, for a plural, an
object of Intl.PluralRules forms ("one", "other", ...).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.app import REPO_ROOT

STATIC = REPO_ROOT / "web" / "static"
MESSAGES = STATIC / "js" / "messages"
LANGUAGES = ("en", "de")
# The plural forms Intl.PluralRules(<language>).resolvedOptions().pluralCategories returns for
# cardinal numbers; a plural message must give each of them.
PLURAL_FORMS = {"en": {"one", "other"}, "de": {"one", "other"}}
PLACEHOLDER = re.compile(r"\{(\w+)\}")

Message = str | dict[str, str]


def catalogue_path(language: str) -> Path:
    return MESSAGES / f"{language}.js"


def load(language: str) -> dict[str, Message]:
    """The catalogue as a dict, keys in file order; fails with the file's name on bad syntax."""
    source = catalogue_path(language).read_text(encoding="utf-8")
    found = re.search(r"^export default (\{.*\});\s*\Z", source, re.S | re.M)
    if not found:
        raise AssertionError(f"{language}.js: expected `export default {{...}};` at the end")
    head = source[: found.start()]
    stray = [line for line in head.splitlines() if line.strip() and not line.startswith("//")]
    if stray:
        raise AssertionError(f"{language}.js: only // comments may precede the object: {stray}")
    pairs = json.loads(found.group(1), object_pairs_hook=_no_duplicates)
    if not isinstance(pairs, dict):
        raise TypeError(f"{language}.js: the default export is not an object")
    return pairs


def _no_duplicates(items: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in items]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise AssertionError(f"duplicate keys: {sorted(duplicates)}")
    return dict(items)


def forms(message: Message) -> list[str]:
    """Every text a message can show: the string, or each plural form."""
    return [message] if isinstance(message, str) else list(message.values())


def placeholders(message: Message) -> set[str]:
    return {name for text in forms(message) for name in PLACEHOLDER.findall(text)}
