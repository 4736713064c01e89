"""Recording cost on the hot path against prometheus_client, in the same run.

``record_event_ns``: one message event (counter + distinct user + minute bucket) through
``Recorder.message``; ``observe_ns``: one latency observation through a bound histogram;
``prom_inc_ns``: a pre-bound prometheus_client child ``.inc()``; ``prom_observe_ns``:
``Histogram.observe``. Targets: record_event_ns <= 0.5 x prom_inc_ns, observe_ns <= 0.3 x
prom_observe_ns. Medians of 7 runs of 200,000 calls each.
"""

from __future__ import annotations

import prometheus_client

from monitoring import FakeClock, Recorder

from ._common import emit, machine, median_ns

N = 200_000


def main() -> None:
    rec = Recorder(salt=b"b" * 16, clock=FakeClock(1_767_225_600.0))
    message = rec.message
    hist = rec.histogram("command_latency_ms", command="ping", kind="slash")
    observe = hist.observe
    generic = rec.observe

    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter(
        "messages", "messages", ["guild"], registry=registry
    ).labels("123")
    histogram = prometheus_client.Histogram("latency_ms", "latency", registry=registry)
    inc = counter.inc
    prom_observe = histogram.observe

    users = list(range(1000))
    result = {
        # 1000 distinct users in rotation, a realistic guild id
        "record_event_ns": median_ns(
            "for u in users: message(811111111111111111, u)",
            number=N // 1000,
            message=message,
            users=users,
        )
        / 1000,
        "observe_ns": median_ns("observe(12.5)", number=N, observe=observe),
        "observe_labelled_ns": median_ns(
            "generic('command_latency_ms', 12.5, command='ping', kind='slash')",
            number=N,
            generic=generic,
        ),
        "prom_inc_ns": median_ns("inc()", number=N, inc=inc),
        "prom_observe_ns": median_ns("observe(12.5)", number=N, observe=prom_observe),
        "loop_overhead_ns": median_ns("for u in users: pass", number=N // 1000, users=users) / 1000,
    }
    result["record_vs_prom_inc"] = result["record_event_ns"] / result["prom_inc_ns"]
    result["observe_vs_prom_observe"] = result["observe_ns"] / result["prom_observe_ns"]
    result["targets_met"] = (
        result["record_vs_prom_inc"] <= 0.5 and result["observe_vs_prom_observe"] <= 0.3
    )
    result["machine"] = machine()
    emit({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})


if __name__ == "__main__":
    main()
