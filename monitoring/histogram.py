"""Fixed log-spaced histogram buckets: percentiles that merge across minutes, hours and processes.

Bucket ``i`` (1 <= i < NUM_BUCKETS - 1) holds values in ``(BOUNDS[i-1], BOUNDS[i]]``; bucket 0
holds values <= ``BOUNDS[0]`` (including zero and negatives); the last bucket holds everything
above the largest bound. Bounds grow by a factor of 2**(1/8) (about 9 %), from 0.001 to about
1.6e7, so a percentile read from merged buckets is within one bucket (under 9.1 % relative error)
of the exact value. Units are the caller's (the core uses milliseconds for latencies).

Stored form: a sparse blob: one format byte (1: counts are uint16, 2: uint32), then the indices of
the non-empty buckets as uint16, then their counts, all little-endian (4 bytes a bucket for most
rows, and decoded with ``array.frombytes``, no Python loop).
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence

__all__ = [
    "BOUNDS",
    "GROWTH",
    "NUM_BUCKETS",
    "add_blobs",
    "bucket_index",
    "decode",
    "encode",
    "merge_blobs",
    "quantile",
    "quantiles",
]

GROWTH = 2.0 ** (1 / 8)
_LOWEST = 0.001
BOUNDS: tuple[float, ...] = tuple(_LOWEST * GROWTH**i for i in range(8 * 34))
NUM_BUCKETS = len(BOUNDS) + 1

_bounds_list = list(BOUNDS)
_BIG_ENDIAN = sys.byteorder == "big"


def bucket_index(value: float) -> int:
    """Index of the bucket holding ``value``."""
    return bisect_left(_bounds_list, value)


def encode(counts: Sequence[int] | dict[int, int]) -> bytes:
    """Sparse blob from dense counts (a list) or a sparse ``{index: count}`` dict."""
    if isinstance(counts, dict):
        items = sorted((i, c) for i, c in counts.items() if c)
    else:
        items = [(i, c) for i, c in enumerate(counts) if c]
    return _pack(array("H", [i for i, _ in items]), [c for _, c in items])


def _pack(indices: array[int], counts: Sequence[int]) -> bytes:
    """The blob of sorted bucket ``indices`` and their ``counts`` (see the module docstring)."""
    wide = bool(counts) and max(counts) > 0xFFFF
    packed = array("I" if wide else "H", counts)
    if _BIG_ENDIAN:
        indices = array("H", indices)  # a copy: the caller's array stays as it was
        indices.byteswap()
        packed.byteswap()
    return (b"\x02" if wide else b"\x01") + indices.tobytes() + packed.tobytes()


def decode(blob: bytes | None) -> dict[int, int]:
    """``{index: count}`` from a sparse blob (empty for ``None``)."""
    if not blob or len(blob) < 2:
        return {}
    return dict(zip(*_arrays(blob), strict=True))


def _arrays(blob: bytes) -> tuple[array[int], array[int]]:
    width = 4 if blob[0] == 2 else 2
    n = (len(blob) - 1) // (2 + width)
    indices = array("H")
    indices.frombytes(blob[1 : 1 + 2 * n])
    values = array("I" if width == 4 else "H")
    values.frombytes(blob[1 + 2 * n :])
    if _BIG_ENDIAN:
        indices.byteswap()
        values.byteswap()
    return indices, values


def add_blobs(a: bytes | None, b: bytes | None) -> bytes | None:
    """The sum of two blobs, as a blob (the store's merge on every upsert: kept fast).

    The larger side stays in C-level arrays and dicts; only the smaller side is looped over.
    """
    if not b or len(b) < 2:
        return a
    if not a or len(a) < 2:
        return b
    if len(b) > len(a):
        a, b = b, a
    ia, ca = _arrays(a)
    merged = dict(zip(ia, ca, strict=True))
    size = len(merged)
    for i, c in zip(*_arrays(b), strict=True):
        merged[i] = merged.get(i, 0) + c
    if len(merged) == size:  # no new bucket: the order of ``a`` still holds
        indices, counts = ia, list(merged.values())
    else:
        keys = sorted(merged)
        indices, counts = array("H", keys), [merged[k] for k in keys]
    return _pack(indices, counts)


def merge_blobs(blobs: Iterable[bytes | None]) -> dict[int, int]:
    """Sum the counts of several blobs."""
    merged: dict[int, int] = {}
    for blob in blobs:
        for index, count in decode(blob).items():
            merged[index] = merged.get(index, 0) + count
    return merged


def _bucket_value(index: int, lo: float | None, hi: float | None) -> float:
    """Representative value of a bucket: its geometric middle, clamped to the observed range."""
    if index <= 0:
        value = BOUNDS[0]
    elif index >= len(BOUNDS):
        value = BOUNDS[-1] * GROWTH
    else:
        value = math.sqrt(BOUNDS[index - 1] * BOUNDS[index])
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    return value


def quantiles(
    counts: dict[int, int], qs: Sequence[float], lo: float | None = None, hi: float | None = None
) -> list[float | None]:
    """Quantiles ``qs`` (each 0..1) from ``{index: count}``; ``None`` when there are no values.

    ``lo``/``hi`` are the exact minimum and maximum when known: results are clamped to them, which
    makes p0 and p100 exact.
    """
    total = sum(counts.values())
    if total == 0:
        return [None for _ in qs]
    ordered = sorted(counts.items())
    out: list[float | None] = []
    for q in qs:
        rank = max(1, math.ceil(q * total))
        seen = 0
        chosen = ordered[-1][0]
        for index, count in ordered:
            seen += count
            if seen >= rank:
                chosen = index
                break
        out.append(_bucket_value(chosen, lo, hi))
    return out


def quantile(
    counts: dict[int, int], q: float, lo: float | None = None, hi: float | None = None
) -> float | None:
    """One quantile; see :func:`quantiles`."""
    return quantiles(counts, (q,), lo, hi)[0]
