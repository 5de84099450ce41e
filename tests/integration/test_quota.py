"""Company slot quotas and the approve-only-if-bookable rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.quota import QuotaError, can_approve, check_publish, slots_figure


@pytest.mark.parametrize(
    ("quota", "published", "adding"),
    [
        (10, 0, 10),  # exactly up to the quota
        (10, 7, 3),
        (10, 10, 0),
        (10, 12, 0),  # quota lowered later; publishing nothing is still fine
        (0, 0, 0),
    ],
)
def test_publish_within_quota(quota: int, published: int, adding: int) -> None:
    assert check_publish(quota, published, adding) is None


@pytest.mark.parametrize(
    ("quota", "published", "adding", "remaining", "message"),
    [
        (
            10,
            7,
            5,
            3,
            "Your company has 3 of 10 slots left; you selected 5. "
            "Remove 2 slots or ask the organizer for a larger quota.",
        ),
        (
            10,
            9,
            2,
            1,
            "Your company has 1 of 10 slots left; you selected 2. "
            "Remove 1 slot or ask the organizer for a larger quota.",
        ),
        (
            10,
            10,
            1,
            0,
            "Your company has 0 of 10 slots left; you selected 1. "
            "Remove 1 slot or ask the organizer for a larger quota.",
        ),
        (
            10,
            12,
            3,
            0,  # over quota already: remaining is clamped, not -2
            "Your company has 0 of 10 slots left; you selected 3. "
            "Remove 3 slots or ask the organizer for a larger quota.",
        ),
    ],
)
def test_publish_over_quota(
    quota: int, published: int, adding: int, remaining: int, message: str
) -> None:
    with pytest.raises(QuotaError) as info:
        check_publish(quota, published, adding)
    assert info.value.remaining == remaining
    assert info.value.message == message
    assert str(info.value) == message


@pytest.mark.parametrize(("quota", "published", "adding"), [(-1, 0, 0), (1, -1, 0), (1, 0, -1)])
def test_negative_counts_are_programming_errors(quota: int, published: int, adding: int) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        check_publish(quota, published, adding)


@pytest.mark.parametrize(
    ("quota", "used", "expected"),
    [
        (10, 3, {"quota": 10, "used": 3, "available": 7}),
        (10, 10, {"quota": 10, "used": 10, "available": 0}),
        (10, 12, {"quota": 10, "used": 12, "available": 0}),  # never negative
        (0, 0, {"quota": 0, "used": 0, "available": 0}),
    ],
)
def test_slots_figure(quota: int, used: int, expected: dict[str, int]) -> None:
    assert slots_figure(quota, used) == expected


@pytest.mark.parametrize(
    ("free", "approved_unscheduled", "expected"),
    [
        (0, 0, False),  # no time at all: nobody could book
        (1, 0, True),
        (3, 2, True),
        (3, 3, False),  # every free slot is already spoken for
        (3, 5, False),
    ],
)
def test_can_approve(free: int, approved_unscheduled: int, expected: bool) -> None:
    assert can_approve(free, approved_unscheduled) is expected


@given(quota=st.integers(0, 500), published=st.integers(0, 500), adding=st.integers(0, 500))
def test_check_publish_property(quota: int, published: int, adding: int) -> None:
    """Refusal happens exactly when something is added beyond the quota."""
    try:
        check_publish(quota, published, adding)
    except QuotaError as error:
        assert adding > 0 and published + adding > quota
        assert error.remaining == max(0, quota - published)
        assert error.remaining < adding
    else:
        assert adding == 0 or published + adding <= quota


@given(quota=st.integers(0, 500), used=st.integers(0, 600))
def test_slots_figure_property(quota: int, used: int) -> None:
    figure = slots_figure(quota, used)
    assert figure["available"] >= 0
    assert figure["available"] == quota - used or (used > quota and figure["available"] == 0)
