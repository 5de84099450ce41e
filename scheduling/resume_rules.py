"""What a participant's résumé must be, and who may read it.

A résumé is judged by its bytes, never by its name or the type a browser claims: it must start
like a PDF, parse with `pypdf` and have a page, within `MAX_RESUME_BYTES`. It is read only by the
company the participant talks to (the chat's employee and their colleagues), never by other
companies, other participants or organizers. Pure: `store_resumes.py` keeps the bytes.
"""

from __future__ import annotations

import io
import re
import unicodedata
from urllib.parse import quote

from pypdf import PdfReader

from scheduling.after_chat_rules import check_company_member
from scheduling.errors import DomainError, ErrorKind
from scheduling.model import ChatState, Role, Side

MAX_RESUME_BYTES = 5 * 1024 * 1024
MAX_FILENAME = 200
DEFAULT_FILENAME = "resume.pdf"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/;]+')


def too_large() -> DomainError:
    return DomainError(
        ErrorKind.TOO_LARGE,
        f"A résumé is limited to {MAX_RESUME_BYTES // (1024 * 1024)} MB; please upload a "
        "smaller PDF (exporting it again without embedded images often helps).",
        max_bytes=MAX_RESUME_BYTES,
    )


def check_pdf(content: bytes) -> int:
    """The PDF's page count, or a refusal that says what to upload instead."""
    if len(content) > MAX_RESUME_BYTES:
        raise too_large()
    if not content:
        raise DomainError(ErrorKind.NOT_PDF, "The upload is empty; choose your résumé as a PDF.")
    if not content.startswith(b"%PDF-"):
        raise DomainError(
            ErrorKind.NOT_PDF,
            "That file is not a PDF (whatever its name says); save or export your résumé as a "
            "PDF and upload that.",
        )
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise DomainError(
                ErrorKind.NOT_PDF,
                "That PDF is password-protected, so recruiters could not open it; upload a "
                "copy without a password.",
            )
        pages = len(reader.pages)
    except DomainError:
        raise
    except Exception as exc:  # hostile input: any parser failure means "not a usable PDF"
        raise DomainError(
            ErrorKind.NOT_PDF,
            "That file starts like a PDF but cannot be read as one; export your résumé as a "
            "PDF again and upload that.",
        ) from exc
    if pages < 1:
        raise DomainError(ErrorKind.NOT_PDF, "That PDF has no pages; upload your résumé again.")
    return pages


def clean_filename(name: str | None) -> str:
    """The name to show and to download as: no path, no control characters, ends in .pdf."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", unicodedata.normalize("NFC", base)).strip(" ._")
    if not base:
        return DEFAULT_FILENAME
    if not base.lower().endswith(".pdf"):
        base += ".pdf"
    return base[-MAX_FILENAME:]


def content_disposition(filename: str) -> str:
    """`attachment`, with an ASCII fallback name and the UTF-8 one (RFC 6266)."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def check_reader(role: Role, company_id: str | None, chat_company_id: str | None) -> None:
    """Who may fetch the résumé of a chat's participant: an employee of the chat's company.

    Anyone else outside the chat gets the answer a missing chat gets (404, ids are not for
    probing); an organizer, who may see every chat, is told it is not theirs (403)."""
    check_company_member(
        role,
        company_id,
        chat_company_id,
        "A participant's résumé is shared only with the company they talk to.",
    )


# An invitation the participant has not accepted: the company must not see their résumé yet
# (or ever, if they decline or the employee withdraws it).
_NOT_ACCEPTED = (ChatState.REQUESTED, ChatState.DECLINED, ChatState.WITHDRAWN)


def resume_shared(initiator: Side, state: ChatState) -> bool:
    """Whether the participant has shared their résumé with the chat's company: with their own
    request at once, with an employee's invitation only once they accepted it."""
    return initiator == Side.PARTICIPANT or state not in _NOT_ACCEPTED
