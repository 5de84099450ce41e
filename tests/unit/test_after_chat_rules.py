"""The pure rules around the call: the minimum gap, résumés by content, notes, marks, feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduling.after_chat_rules import (
    MIN_RESPONSES_FOR_COMMENTS,
    check_feedback,
    check_follow_up,
    check_no_show_mark,
    check_notes,
    shown_comments,
)
from scheduling.booking_gap import check_gap
from scheduling.errors import DomainError, ErrorKind
from scheduling.model import ChatState
from scheduling.resume_rules import check_pdf, clean_filename, content_disposition
from tests.support.around import pdf_bytes

T = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("start", "end", "gap", "refused"),
    [
        (T + 30 * M, T + 60 * M, 0, False),  # back to back, no gap asked
        (T + 30 * M, T + 60 * M, 10, True),  # back to back, 10 minutes asked
        (T + 40 * M, T + 70 * M, 10, False),  # exactly the gap
        (T + 39 * M, T + 69 * M, 10, True),
        (T - 40 * M, T - 10 * M, 10, False),  # before, exactly the gap
        (T - 39 * M, T - 9 * M, 10, True),
        (T + 10 * M, T + 20 * M, 10, False),  # an overlap is the overlap rule's
    ],
)
def test_gap(start: datetime, end: datetime, gap: int, refused: bool) -> None:
    other = [(T, T + 30 * M)]
    if refused:
        with pytest.raises(DomainError) as caught:
            check_gap(start, end, other, gap)
        assert caught.value.kind == ErrorKind.TOO_CLOSE and str(gap) in caught.value.message
    else:
        check_gap(start, end, other, gap)


def test_a_pdf_is_judged_by_its_bytes() -> None:
    assert check_pdf(pdf_bytes(3)) == 3
    for junk in (b"GIF89a", b"%PDF-", b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF"):
        with pytest.raises(DomainError) as caught:
            check_pdf(junk)
        assert caught.value.kind == ErrorKind.NOT_PDF


def test_file_names_are_made_safe_to_show_and_download() -> None:
    assert clean_filename(None) == "resume.pdf"
    assert clean_filename("C:\\Users\\me\\cv.PDF") == "cv.PDF"
    assert clean_filename('a"b;c\r\n.exe') == "a_b_c_.exe.pdf"
    header = content_disposition("Lebenslauf Müller.pdf")
    assert header.startswith('attachment; filename="Lebenslauf M_ller.pdf"')
    assert "filename*=UTF-8''Lebenslauf%20M%C3%BCller.pdf" in header


def test_notes_marks_follow_ups_and_feedback() -> None:
    assert check_notes("  ok ", 5, "offer", met=True) == "ok"
    for args, field in (((" ", 0, ""), "rating"), ((" ", None, "hire"), "next_step")):
        with pytest.raises(DomainError) as caught:
            check_notes(*args, met=True)
        assert caught.value.extra["field"] == field
    with pytest.raises(DomainError, match="no chat with this participant"):
        check_notes("", None, "", met=False)
    check_no_show_mark(ChatState.COMPLETED, T, T)
    for state, now in ((ChatState.CONFIRMED, T - M), (ChatState.CANCELLED, T + M)):
        with pytest.raises(DomainError):
            check_no_show_mark(state, T, now)
    check_follow_up(ChatState.NO_SHOW)
    with pytest.raises(DomainError, match="Completed tab"):
        check_follow_up(ChatState.CONFIRMED)
    assert check_feedback(ChatState.CONFIRMED, T, T, 3, " fine ") == "fine"
    with pytest.raises(DomainError, match="can be joined"):
        check_feedback(ChatState.CONFIRMED, T, T - M, 3, "")


def test_comments_show_only_past_the_anonymity_floor_and_in_no_telling_order() -> None:
    few = ["b", "a"]
    assert shown_comments(few) == []
    many = ["zeta", "", "alpha", "mid", "beta"]
    assert len(many) == MIN_RESPONSES_FOR_COMMENTS
    assert shown_comments(many) == ["alpha", "beta", "mid", "zeta"]
