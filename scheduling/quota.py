"""Per-company slot quotas: how many slots a company's employees may publish in total."""

from __future__ import annotations


class QuotaError(Exception):
    """Publishing would exceed the quota; `remaining` is how many slots are still free."""

    def __init__(self, message: str, remaining: int) -> None:
        super().__init__(message)
        self.message = message
        self.remaining = remaining


def _slots(count: int) -> str:
    return "1 slot" if count == 1 else f"{count} slots"


def _require_non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{name} cannot be negative (got {value}).")


def check_publish(quota: int, published_by_company: int, adding: int) -> None:
    """Refuse publishing `adding` more slots when the company would go over its quota.

    Adding nothing is always accepted, even if an organizer has since lowered the quota below
    what is already published: there is nothing the employee could remove from this request.
    """
    _require_non_negative(quota=quota, published_by_company=published_by_company, adding=adding)
    if adding == 0 or published_by_company + adding <= quota:
        return
    remaining = max(0, quota - published_by_company)
    excess = adding - remaining
    raise QuotaError(
        f"Your company has {remaining} of {quota} slots left; you selected {adding}. "
        f"Remove {_slots(excess)} or ask the organizer for a larger quota.",
        remaining,
    )


def slots_figure(quota: int, used: int) -> dict[str, int]:
    """The "N of M slots used" figure; `available` is clamped at 0 if the quota was lowered."""
    return {"quota": quota, "used": used, "available": max(0, quota - used)}


def can_approve(free_future_slots: int, approved_unscheduled: int) -> bool:
    """Approving is allowed only while every approved-but-unscheduled chat can still get a slot.

    Otherwise an employee could approve more people than they have time for, and someone would
    be left with nothing to book.
    """
    return approved_unscheduled < free_future_slots
