"""CSV written to a streaming response batch by batch, with spreadsheet formulas neutralised.

A cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return, which some
spreadsheets skip before looking) would run as a formula when the file is opened (CSV
injection, OWASP); such a cell gets a leading `'`, so it shows as the text it was. Numbers
are written as numbers; every text a person typed goes through `safe_cell`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Ids in a download's name come from tokens and paths: only plain characters reach the header.
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]+")


def safe_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def stream_csv(
    request: web.Request,
    filename: str,
    header: Sequence[str],
    batches: AsyncIterator[Sequence[Sequence[object]]],
) -> web.StreamResponse:
    """Send `header`, then each batch as it comes: one write (and one wait for the client) per
    batch, so memory holds one batch, whatever the export's length."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{_NOT_PLAIN.sub("_", filename)}"',
        }
    )
    response.enable_chunked_encoding()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    await response.prepare(request)
    await response.write(buffer.getvalue().encode())
    async for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([safe_cell(v) for v in row] for row in rows)
        await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response
