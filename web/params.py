"""Validation of query parameters: every bad value is a :class:`BadParameter` (HTTP 400).

The patterns and ranges here are also what ``/api/openapi.json`` publishes (``web.openapi`` reads
them from this module), so the schema and the server cannot disagree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from monitoring.store.base import RESOLUTIONS

from .errors import BadParameter

__all__ = [
    "MAX_HOURS",
    "MAX_POINTS",
    "SNOWFLAKE_PATTERN",
    "STEPS",
    "check_known",
    "parse_guild",
    "parse_hours",
    "parse_int",
    "parse_snowflake",
    "parse_step",
]

log = logging.getLogger(__name__)

MAX_HOURS = 8760
"""The longest range a query may ask for (one year)."""
MAX_POINTS = 2000
"""The most points a series may have (hours * 3600 / step); a finer step is coarsened."""
STEPS: tuple[int, ...] = tuple(RESOLUTIONS)
_MAX_DIGITS = 12
"""Longer numbers are refused before conversion (Python's int() has a 4,300-digit limit, and no
parameter here needs more than a few digits)."""


def _at_most(limit: str) -> str:
    """A regex for the decimal numbers of ``len(limit)`` digits that are at most ``limit``."""
    parts = []
    for i, digit in enumerate(limit):
        if digit != "0":
            lower = "0" if i else "1"
            if int(digit) - 1 >= int(lower):
                parts.append(f"{limit[:i]}[{lower}-{int(digit) - 1}][0-9]{{{len(limit) - i - 1}}}")
    parts.append(limit)
    return "|".join(parts)


SNOWFLAKE_PATTERN = f"^(?:[1-9][0-9]{{16,17}}|{_at_most(str(2**63 - 1))})$"
"""A Discord id as the store keeps it: 17 to 19 digits, no leading zero, below 2^63."""
_SNOWFLAKE = re.compile(SNOWFLAKE_PATTERN)
_SNOWFLAKE_ALLOWED = "a Discord id: 17 to 19 digits without a leading zero, below 2^63"


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


def _whole(raw: str, name: str, allowed: str) -> int:
    """ASCII digits, measured before conversion (else ``BadParameter(name, allowed)``)."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        raise BadParameter(name, allowed)
    return int(text)


def parse_int(raw: str | None, name: str, lo: int, hi: int, default: int) -> int:
    """A whole number from ``lo`` to ``hi`` (``default`` when absent)."""
    if raw is None:
        return default
    allowed = f"a whole number from {lo} to {hi}"
    value = _whole(raw, name, allowed)
    if not lo <= value <= hi:
        raise BadParameter(name, allowed)
    return value


def parse_hours(raw: str | None, default: int = 24) -> int:
    """``hours``: a whole number from 1 to 8,760."""
    return parse_int(raw, "hours", 1, MAX_HOURS, default)


def parse_step(raw: str | None, hours: int) -> int | None:
    """``step``: seconds per point, one of the store's resolutions. Over a range where it would
    give more than :data:`MAX_POINTS` points, the finest resolution that fits is used instead
    (the answer's ``step`` says which)."""
    if raw is None:
        return None
    allowed = f"one of {', '.join(map(str, STEPS))} (seconds)"
    step = _whole(raw, "step", allowed)
    if step not in STEPS:
        raise BadParameter("step", allowed)
    fitting = [s for s in STEPS if s >= step and hours * 3600 / s <= MAX_POINTS]
    return fitting[0] if fitting else STEPS[-1]


def parse_snowflake(raw: str | None, name: str) -> int | None:
    """A Discord id parameter (None when absent)."""
    if raw is None:
        return None
    text = raw.strip()
    if not _SNOWFLAKE.match(text):
        raise BadParameter(name, _SNOWFLAKE_ALLOWED)
    return int(text)


def parse_guild(raw: str | None) -> int | None:
    """``guild``: a Discord guild id; absent means every guild the caller may see."""
    return parse_snowflake(raw, "guild")
