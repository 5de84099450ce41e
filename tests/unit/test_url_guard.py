"""The SSRF guard's address rules and the signature's form, without any network."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from scheduling.store_webhooks import new_secret
from web.url_guard import UrlRefused, check_address, check_form
from web.webhook_signing import signature, signed_headers

REFUSED = [
    "127.0.0.1",  # loopback
    "::1",
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "fd12:3456::1",  # unique local
    "169.254.10.10",  # link-local
    "fe80::1",
    "100.64.0.1",  # CGNAT
    "224.0.0.251",  # multicast
    "ff02::1",
    "0.0.0.0",  # unspecified
    "::",
    "240.0.0.1",  # reserved
    "::ffff:127.0.0.1",  # loopback in IPv6 clothing
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]
METADATA = ["169.254.169.254", "fd00:ec2::254", "2002:a9fe:a9fe::"]  # the last: 6to4 of the first


@pytest.mark.parametrize("address", REFUSED + METADATA)
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(UrlRefused, match=r"\.$"):
        check_address(ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize("address", REFUSED)
def test_webhook_allow_private_lets_internal_addresses_through(address: str) -> None:
    check_address(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize("address", METADATA)
def test_metadata_addresses_are_refused_always(address: str) -> None:
    with pytest.raises(UrlRefused, match="metadata"):
        check_address(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_pass(address: str) -> None:
    check_address(ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/x", "https://"),
        ("https://", "https://"),
        ("https://user:pw@example.com/", "user name"),
        ("https://example.com:99999/", "not valid"),
        # Names the resolver's IDNA encoding refuses (a label over 63 characters, a control
        # character): found by schemathesis as a 500.
        ("https://" + "0" * 300, "not a valid host name"),
        ("http://b\u0102\u00e9\u009b", "not a valid host name"),
    ],
)
def test_malformed_urls_are_refused_in_words(url: str, words: str) -> None:
    with pytest.raises(UrlRefused, match=words):
        check_form(url)


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = '{"type":"chat.confirmed","timestamp":"2026-12-01T08:00:00Z","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers(secret, "msg_1", now, body)
    assert Webhook(secret).verify(body, headers)["type"] == "chat.confirmed"
    assert headers["webhook-signature"] == Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, UTC), body
    )
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
    assert signature(secret, "msg_2", now, body) != headers["webhook-signature"]
