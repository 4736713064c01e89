"""``benchmarks/run_all.py``: discovery, parsing, failures listed, the RESULTS.md table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from benchmarks.run_all import Outcome, _last_json, discover, main, render, run_one


def test_discovers_every_benchmark_but_the_helpers() -> None:
    names = discover()
    assert {"record", "store", "exposition"} <= set(names)
    assert not {"_common", "run_all", "__init__"} & set(names)
    here = Path(__file__).resolve().parents[2] / "benchmarks"
    assert len(names) == len([p for p in here.glob("*.py") if not p.stem.startswith("_")]) - 1


def test_the_last_json_object_is_the_result() -> None:
    out = 'progress\n{"a": 1}\nnoise {\n{"b": 2, "ok": true}\n\n'
    assert _last_json(out) == {"b": 2, "ok": True}
    assert _last_json("no json here\n[1, 2]\n") is None


def test_a_failing_benchmark_is_reported_not_hidden() -> None:
    outcome = run_one("does_not_exist", timeout=60)
    assert outcome.result is None and "exit status" in outcome.error


def test_table_has_ratios_targets_failures_and_machine() -> None:
    outcomes = [
        Outcome("record", 3.0, {"record_event_ns": 150.0, "prom_inc_ns": 320.0,
                                "observe_ns": 400.0, "prom_observe_ns": 900.0,
                                "targets_met": False}),
        Outcome("listener", 9.0, {"on_message_overhead_us": 2.5, "bare_dispatch_us": 30.0,
                                  "target_us": 5.0}),
        Outcome("mystery", 1.0, {"speed": 3.5, "runs": 7}),
        Outcome("store", 1800.0, None, "timed out after 1800 s"),
    ]  # fmt: skip
    text = render(outcomes, dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC))
    assert "2026-01-02 03:04 UTC" in text and "Python" in text and "cores" in text
    assert (
        "| record | `record_event_ns` | 150 ns | `prom_inc_ns` 320 | 0.47 | <= 0.5x peer | ✅ |"
        in text
    )
    assert (
        "| record | `observe_ns` | 400 ns | `prom_observe_ns` 900 | 0.44 | <= 0.3x peer | ❌ |"
        in text
    )
    assert "`on_message_overhead_us` | 2.5 µs | `bare_dispatch_us` 30 | 0.08 | <= 5 µs | ✅" in text
    assert "| mystery | `speed` | 3.5 |" in text and "`runs`" not in text
    assert "| store | **failed** | timed out after 1800 s |" in text


def test_main_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--only", "exposition", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| exposition | `render_us` |" in text and "**failed**" not in text
