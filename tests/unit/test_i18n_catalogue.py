"""The client's catalogues agree: German has every English key with the same placeholders, no
message is empty, plurals give every form the language needs, and no key is unused or missing
from the code (keys are written out whole in the client, never assembled, so this can tell)."""

from __future__ import annotations

import re

import pytest

from scheduling.webhook_payloads import EventType
from tests.support.client_catalogue import (
    LANGUAGES,
    PLACEHOLDER,
    PLURAL_FORMS,
    STATIC,
    forms,
    load,
    placeholders,
)

EN = load("en")
# A key as the client writes it: 't('x.y')' or a table of keys ('x.y').
KEY_LITERAL = re.compile(r"""['"`]([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)['"`]""")


def client_sources() -> dict[str, str]:
    files = sorted((STATIC / "js").rglob("*.js"))
    sources = {
        str(p.relative_to(STATIC)): p.read_text(encoding="utf-8")
        for p in files
        if "messages" not in p.parts
    }
    sources["index.html"] = (STATIC / "index.html").read_text(encoding="utf-8")
    return sources


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_exactly_the_english_keys(language: str) -> None:
    other = load(language)
    assert set(other) == set(EN), {
        "missing": sorted(set(EN) - set(other)),
        "extra": sorted(set(other) - set(EN)),
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match_english_key_by_key(language: str) -> None:
    other = load(language)
    wrong = {
        key: (sorted(placeholders(EN[key])), sorted(placeholders(other[key])))
        for key in EN
        if key in other and placeholders(EN[key]) != placeholders(other[key])
    }
    assert not wrong


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_is_empty_and_plurals_are_complete(language: str) -> None:
    catalogue = load(language)
    empty = [
        key for key, message in catalogue.items() if any(not f.strip() for f in forms(message))
    ]
    assert not empty
    for key, message in catalogue.items():
        if isinstance(message, dict):
            assert PLURAL_FORMS[language] <= set(message), (key, sorted(message))
            assert "count" in placeholders(message) or key in EN, key
        assert isinstance(EN[key], dict) == isinstance(message, dict), key


def test_the_german_catalogue_is_translated_not_copied() -> None:
    de = load("de")
    # Short words that read the same in both languages ("Name", "Chat", "Link") are fine;
    # whole English sentences left in the German catalogue are not.
    copied = [
        key
        for key, message in EN.items()
        if isinstance(message, str)
        and re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", PLACEHOLDER.sub("", message))
        and de[key] == message
    ]
    assert not copied


def test_every_key_is_used_and_every_used_key_exists() -> None:
    sources = client_sources()
    used = {key for text in sources.values() for key in KEY_LITERAL.findall(text)}
    # Literals with dots that are not message keys (file names, CSS) are ignored: only those
    # that look like keys of the catalogue's groups count as uses.
    groups = {key.split(".")[0] for key in EN}
    used_keys = {key for key in used if key.split(".")[0] in groups}
    # Webhook event types ("chat.confirmed") are names of the API, shown as code, not messages.
    used_keys -= {kind.value for kind in EventType}
    assert not used_keys - set(EN), sorted(used_keys - set(EN))
    assert not set(EN) - used_keys, sorted(set(EN) - used_keys)
