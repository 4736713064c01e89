from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring import histogram as h


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def counts_of(values: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for v in values:
        i = h.bucket_index(v)
        counts[i] = counts.get(i, 0) + 1
    return counts


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=300),
    st.sampled_from([0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_quantile_within_one_bucket_of_exact(values: list[float], q: float) -> None:
    est = h.quantile(counts_of(values), q, min(values), max(values))
    exact = exact_quantile(values, q)
    assert est is not None
    # same bucket => relative error below one bucket's growth factor
    assert exact / h.GROWTH <= est <= exact * h.GROWTH


def test_percentiles_merge_across_windows() -> None:
    rng = random.Random(7)
    a = [rng.lognormvariate(3, 1) for _ in range(5000)]
    b = [rng.lognormvariate(5, 0.5) for _ in range(5000)]
    merged = h.merge_blobs([h.encode(counts_of(a)), h.encode(counts_of(b))])
    assert merged == counts_of(a + b)
    for q in (0.5, 0.95, 0.99):
        est = h.quantile(merged, q)
        exact = exact_quantile(a + b, q)
        assert est is not None and abs(est / exact - 1) < h.GROWTH - 1


def test_encode_decode_roundtrip_and_empty() -> None:
    dense = [0] * h.NUM_BUCKETS
    dense[0] = 3
    dense[100] = 5
    dense[-1] = 1
    assert h.decode(h.encode(dense)) == {0: 3, 100: 5, h.NUM_BUCKETS - 1: 1}
    assert h.decode(None) == {}
    assert h.quantiles({}, [0.5]) == [None]


def test_bounds_cover_the_range() -> None:
    assert h.bucket_index(0) == 0
    assert h.bucket_index(-5) == 0
    assert h.bucket_index(1e12) == h.NUM_BUCKETS - 1
    assert h.BOUNDS[-1] > 1e7


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(0, h.NUM_BUCKETS - 1), st.integers(1, 70_000), max_size=40),
    st.dictionaries(st.integers(0, h.NUM_BUCKETS - 1), st.integers(1, 70_000), max_size=40),
)
def test_add_blobs_equals_merging(a: dict[int, int], b: dict[int, int]) -> None:
    blob_a, blob_b = h.encode(a), h.encode(b)
    expected = h.merge_blobs([blob_a, blob_b])
    assert h.decode(h.add_blobs(blob_a, blob_b)) == expected
    assert h.add_blobs(blob_a, blob_b) == h.encode(expected)
    assert h.decode(h.add_blobs(None, blob_b)) == b and h.decode(h.add_blobs(blob_a, None)) == a
