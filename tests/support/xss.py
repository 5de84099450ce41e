"""Text people could type that a careless page or mail would run as markup: the one corpus the
browser tests (chat messages) and the mail tests (every person-supplied text in an HTML body)
push through, expecting it back as text."""

from __future__ import annotations

from typing import Final

# The chat test's payload: an image whose error handler sets window.pwned.
XSS: Final = "<img src=x onerror=window.pwned=1>"
# A link the chat makes into an anchor only for its http(s) part.
LINKS: Final = "Links: javascript:alert(1) and https://example.org/jobs?team=1&x=<b>."

CORPUS: Final = (
    XSS,
    LINKS,
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    '\'><a href="javascript:alert(1)">click</a>',
    "</title></style><iframe src=//evil.example></iframe>",
    "<style>*{display:none}</style>",
    "&lt;b&gt;already escaped&lt;/b&gt; & more",
    "{{ 7*7 }} {% if true %}jinja{% endif %}",
    'O\'Brien "quoted" <b>bold</b>',
)
