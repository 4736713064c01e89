"""Shared helpers for benchmarks: medians of repeated runs and the final JSON line."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from typing import Any

__all__ = ["emit", "machine", "median_ns", "median_of"]


def median_ns(
    stmt: Callable[[], object] | str, *, number: int, repeat: int = 7, **globs: Any
) -> float:
    """Median nanoseconds per call of ``stmt`` over ``repeat`` runs of ``number`` calls."""
    timer = timeit.Timer(stmt, globals=globs or None)  # type: ignore[arg-type]
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e9


def median_of(fn: Callable[[], float], runs: int = 5) -> float:
    return statistics.median(fn() for _ in range(runs))


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }


def emit(result: dict[str, Any]) -> None:
    """Print the result as one JSON object on the last line."""
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
