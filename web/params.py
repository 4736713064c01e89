"""Validation of query parameters: every bad value is a :class:`BadParameter` (HTTP 400)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from monitoring.store.base import RESOLUTIONS

from .errors import BadParameter

__all__ = [
    "MAX_HOURS",
    "MAX_POINTS",
    "check_known",
    "parse_guild",
    "parse_hours",
    "parse_step",
]

log = logging.getLogger(__name__)

MAX_HOURS = 8760
"""The longest range a query may ask for (one year)."""
MAX_POINTS = 2000
"""The most points a series may have (hours * 3600 / step)."""

_STEPS = ", ".join(str(s) for s in RESOLUTIONS)


def check_known(query: Mapping[str, str], allowed: Iterable[str]) -> None:
    """Reject unknown and repeated parameters (a typo should not be silently ignored)."""
    names = set(allowed)
    for key in query:
        if key not in names:
            shown = ", ".join(sorted(names)) or "none"
            raise BadParameter(key, f"parameters {shown}", f"unknown parameter {key!r}")
    getall = getattr(query, "getall", None)
    if getall is not None:
        for key in names:
            if len(getall(key, [])) > 1:
                raise BadParameter(key, "a single value", f"parameter {key!r} given twice")


def parse_hours(raw: str | None, default: int = 24) -> int:
    """``hours``: a whole number from 1 to 8,760."""
    allowed = f"a whole number from 1 to {MAX_HOURS}"
    if raw is None:
        return default
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise BadParameter("hours", allowed)
    value = int(text)
    if not 1 <= value <= MAX_HOURS:
        raise BadParameter("hours", allowed)
    return value


def parse_step(raw: str | None, hours: int) -> int | None:
    """``step``: seconds per point, one of the store's resolutions, at most MAX_POINTS points."""
    if raw is None:
        return None
    allowed = f"one of {_STEPS} (seconds), giving at most {MAX_POINTS} points"
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or int(text) not in RESOLUTIONS:
        raise BadParameter("step", allowed)
    step = int(text)
    if hours * 3600 / step > MAX_POINTS:
        raise BadParameter(
            "step",
            allowed,
            f"step={step} over {hours} hours gives more than {MAX_POINTS} points; "
            f"use a step of at least {hours * 3600 // MAX_POINTS} seconds",
        )
    return step


def parse_guild(raw: str | None) -> int | None:
    """``guild``: a Discord guild id (a 17-20 digit number); absent means every visible guild."""
    if raw is None:
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not 17 <= len(text) <= 20:
        raise BadParameter("guild", "a Discord guild id (a 17-20 digit number)")
    value = int(text)
    if value >= 2**63:
        raise BadParameter("guild", "a Discord guild id (a 17-20 digit number)")
    return value
