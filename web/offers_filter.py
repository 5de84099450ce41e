"""Search, filters and paging over the cached offers list, in memory.

The list is built once per event (web/offers_cache.py) and is small beside what it saves
(1,000 people are ~1 MB): filtering the cached list costs well under a millisecond per
thousand offers, where asking the database per query would rebuild the free-slot counts each
time and bypass the cache's version checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from msgspec import UNSET

from web import request_bodies as rb
from web import resources as r
from web.problems import Problem


def facets(offers: Sequence[r.Offer], days: Sequence[date]) -> r.OfferFacets:
    """Every language, level and topic someone offers (first spelling wins), and the days."""

    def distinct(values: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for value in values:
            seen.setdefault(value.casefold(), value)
        return sorted(seen.values(), key=str.casefold)

    return r.OfferFacets(
        languages=distinct([x for o in offers for x in o.profile.languages]),
        levels=distinct([o.profile.experience_level for o in offers if o.profile.experience_level]),
        topics=distinct([x for o in offers for x in o.profile.topics]),
        days=sorted(days),
    )


def _any_of(wanted: list[str], have: Sequence[str]) -> bool:
    if not wanted:
        return True
    mine = {x.casefold() for x in have}
    return any(w.casefold() in mine for w in wanted)


def matches(offer: r.Offer, query: rb.OffersQuery) -> bool:
    """Whether one offer passes the search and every filter named in the query."""
    words = query.q.casefold().split()
    if words:
        text = " ".join(
            [offer.name, offer.headline, offer.company_name, *offer.profile.topics]
        ).casefold()
        if not all(w in text for w in words):
            return False
    level = offer.profile.experience_level
    return (
        _any_of(query.language, offer.profile.languages)
        and _any_of(query.topic, offer.profile.topics)
        and _any_of(query.level, [level] if level else [])
        and (query.free_on is UNSET or query.free_on in offer.free_days)
    )


def check_day(query: rb.OffersQuery, days: Sequence[date]) -> None:
    """`free_on` must name one of the event's days: a 422 that lists them."""
    if query.free_on is not UNSET and query.free_on not in days:
        listed = ", ".join(d.isoformat() for d in days)
        raise Problem(
            422, "invalid", f"'free_on' must be one of the event's days: {listed}.", field="free_on"
        )


def select(
    offers: Sequence[r.Offer], query: rb.OffersQuery, all_facets: r.OfferFacets
) -> r.OfferList:
    """The page of matching offers the query asks for, in the list's order."""
    found = [o for o in offers if matches(o, query)]
    end = len(found) if query.limit is UNSET else query.offset + query.limit
    return r.OfferList(found[query.offset : end], len(found), query.offset, all_facets)
