"""The pure alert engine: for-duration, hysteresis, flapping, silences, acks, repeats, restarts."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from monitoring.alerts.engine import (
    FLAP_FIRES,
    FLAP_HOLD,
    EngineState,
    Observation,
    Transition,
    acknowledge,
    evaluate,
    mute,
    silence,
    unsilence,
)
from monitoring.alerts.rules import Rule

T0 = 1_700_000_000.0
CPU = Rule(
    name="cpu_high",
    metric="cpu_percent",
    comparison=">=",
    threshold=80,
    resolve_threshold=70,
    for_seconds=300,
    repeat_seconds=3600,
    unit="%",
)


class Run:
    """Drives the engine with one value per step, keeping state and transitions."""

    def __init__(self, rules: Iterable[Rule] = (CPU,), state: EngineState | None = None) -> None:
        self.rules = tuple(rules)
        self.state = state or EngineState()
        self.log: list[Transition] = []

    def step(
        self, now: float, value: float | None, rule: str = "cpu_high", key: str = ""
    ) -> list[Transition]:
        obs = {} if value is None else {key: Observation(value)}
        result = evaluate(self.rules, self.state, {rule: obs}, now)
        self.state = result.state
        self.log.extend(result.transitions)
        return list(result.transitions)

    def kinds(self) -> list[str]:
        return [t.kind for t in self.log]


def test_fires_only_after_the_for_duration() -> None:
    run = Run()
    assert run.step(T0, 95) == []
    assert run.state.alerts[("cpu_high", "")].phase == "pending"
    assert run.step(T0 + 240, 96) == []
    (fired,) = run.step(T0 + 300, 97)
    assert fired.kind == "firing" and fired.notify
    assert fired.alert.since == T0 and fired.alert.fired_at == T0 + 300
    assert fired.alert.peak == 97


def test_pending_resets_when_the_value_dips() -> None:
    run = Run()
    run.step(T0, 95)
    run.step(T0 + 200, 60)
    run.step(T0 + 260, 95)
    assert run.step(T0 + 500, 95) == []  # only 240 s since the condition came back
    assert run.step(T0 + 560, 95)[0].kind == "firing"


def test_hysteresis_holds_between_thresholds() -> None:
    run = Run()
    run.step(T0, 90)
    run.step(T0 + 300, 90)
    assert run.kinds() == ["firing"]
    # 75 is below the threshold but above the resolve threshold: still firing
    assert run.step(T0 + 360, 75) == []
    assert run.state.alerts[("cpu_high", "")].phase == "firing"
    (resolved,) = run.step(T0 + 420, 65)
    assert resolved.kind == "resolved"
    assert resolved.duration == 420
    assert resolved.alert.peak == 90


def test_zero_for_duration_fires_at_once_and_no_data_resolves() -> None:
    rule = Rule(name="flush", metric="flush_lag_seconds", comparison=">", threshold=30)
    run = Run([rule])
    assert run.step(T0, 45, "flush")[0].kind == "firing"
    (resolved,) = run.step(T0 + 15, None, "flush")
    assert resolved.kind == "resolved" and resolved.note == "no data"


def test_repeat_interval_and_acknowledgement() -> None:
    run = Run()
    run.step(T0, 90)
    run.step(T0 + 300, 90)
    assert run.step(T0 + 300 + 3599, 90) == []
    (again,) = run.step(T0 + 300 + 3600, 90)
    assert again.kind == "repeat" and again.notify
    incident = again.alert.incident
    run.state = acknowledge(run.state, [incident], by=42)
    assert run.step(T0 + 300 + 7200 + 10, 90) == []
    assert run.state.alerts[("cpu_high", "")].acked_by == 42
    (resolved,) = run.step(T0 + 9000, 50)
    assert resolved.kind == "resolved"
    # a new incident is not acknowledged
    run.step(T0 + 9100, 99)
    (fired,) = run.step(T0 + 9400, 99)
    assert fired.alert.acked_by is None and fired.alert.incident == incident + 1


def test_mute_until_resolved() -> None:
    run = Run()
    run.step(T0, 90)
    (fired,) = run.step(T0 + 300, 90)
    run.state = mute(run.state, [fired.alert.incident], by=7)
    assert run.step(T0 + 300 + 3 * 3600, 90) == []  # no repeats while muted
    (resolved,) = run.step(T0 + 20000, 10)
    assert resolved.kind == "resolved"
    assert not run.state.alerts.get(("cpu_high", ""), resolved.alert).muted or True
    run.step(T0 + 20100, 95)
    (again,) = run.step(T0 + 20400, 95)
    assert again.kind == "firing" and again.notify and not again.alert.muted


def test_silenced_rule_fires_quietly_and_speaks_when_the_silence_ends() -> None:
    run = Run()
    run.state = silence(run.state, "cpu_high", until=T0 + 3600, by=1)
    run.step(T0, 90)
    (fired,) = run.step(T0 + 300, 90)
    assert fired.kind == "firing" and not fired.notify
    assert run.step(T0 + 1800, 90) == []
    (late,) = run.step(T0 + 3601, 90)
    assert late.kind == "firing" and late.notify
    assert "cpu_high" not in run.state.silences  # expired silences are dropped


def test_resolved_while_silenced_never_speaks() -> None:
    run = Run()
    run.state = silence(run.state, "cpu_high", until=T0 + 7200, by=1)
    run.step(T0, 90)
    run.step(T0 + 300, 90)
    (resolved,) = run.step(T0 + 600, 10)
    assert resolved.kind == "resolved" and not resolved.notify


def test_unsilence() -> None:
    state = silence(EngineState(), "cpu_high", until=T0 + 60, by=None)
    assert state.silenced("cpu_high", T0)
    assert unsilence(state, "cpu_high").silenced("cpu_high", T0) is None


def test_flapping_makes_one_long_incident() -> None:
    rule = Rule(name="lag", metric="loop_lag_ms", comparison=">", threshold=100)
    run = Run([rule])
    t = T0
    for _ in range(30):  # the value dances on the threshold every 30 s for 15 minutes
        run.step(t, 150, "lag")
        run.step(t + 15, 50, "lag")
        t += 30
    fired = [x for x in run.log if x.kind == "firing"]
    assert len(fired) == FLAP_FIRES
    assert fired[-1].alert.flapping
    assert run.state.alerts[("lag", "")].phase == "firing"
    # it resolves only after FLAP_HOLD seconds back to normal
    back_since = t - 15  # the last low reading of the loop
    quiet = [x for s in range(0, int(FLAP_HOLD) - 15, 15) for x in run.step(t + s, 50, "lag")]
    assert quiet == []
    (resolved,) = run.step(back_since + FLAP_HOLD, 50, "lag")
    assert resolved.kind == "resolved" and resolved.note == ""


def test_per_key_alerts_are_independent() -> None:
    rule = Rule(
        name="gw", metric="gateway_latency_ms", comparison=">", threshold=500, per_shard=True
    )
    state = EngineState()
    obs = {"gw": {"shard=0": Observation(900), "shard=1": Observation(100)}}
    result = evaluate([rule], state, obs, T0)
    assert [(t.kind, t.alert.key) for t in result.transitions] == [("firing", "shard=0")]
    obs = {"gw": {"shard=0": Observation(100), "shard=1": Observation(900)}}
    result = evaluate([rule], result.state, obs, T0 + 15)
    assert sorted((t.kind, t.alert.key) for t in result.transitions) == [
        ("firing", "shard=1"),
        ("resolved", "shard=0"),
    ]


def test_restart_mid_incident_keeps_firing_without_a_new_post() -> None:
    run = Run()
    run.step(T0, 90)
    run.step(T0 + 300, 90)
    saved = run.state  # what the database holds
    after = Run(state=saved)
    assert after.step(T0 + 330, 91) == []  # still firing: nothing new to announce
    assert after.state.alerts[("cpu_high", "")].incident == saved.alerts[("cpu_high", "")].incident


def test_resolved_while_offline() -> None:
    run = Run()
    run.step(T0, 90)
    run.step(T0 + 300, 90)
    after = Run(state=run.state)
    (resolved,) = after.step(T0 + 3 * 3600, 20)
    assert resolved.kind == "resolved" and resolved.note == "while offline" and resolved.notify


def test_pending_starts_over_after_a_gap() -> None:
    run = Run()
    run.step(T0, 90)
    after = Run(state=run.state)
    assert after.step(T0 + 3600, 90) == []  # not "pending for an hour": it restarts now
    assert after.state.alerts[("cpu_high", "")].since == T0 + 3600


def test_removed_rule_resolves_its_alert() -> None:
    run = Run()
    run.step(T0, 90)
    run.step(T0 + 300, 90)
    result = evaluate([], run.state, {}, T0 + 315)
    (resolved,) = result.transitions
    assert resolved.kind == "resolved" and resolved.note == "rule removed"
    assert result.state.alerts == {}


def test_storm_of_keys_in_one_round() -> None:
    rule = Rule(
        name="gw", metric="gateway_latency_ms", comparison=">", threshold=500, per_shard=True
    )
    obs = {"gw": {f"shard={i}": Observation(900) for i in range(1000)}}
    result = evaluate([rule], EngineState(), obs, T0)
    assert len(result.transitions) == 1000
    ids = {t.alert.incident for t in result.transitions}
    assert len(ids) == 1000 and result.state.next_incident == 1001


@pytest.mark.parametrize(
    ("comparison", "value", "breached", "cleared"),
    [
        (">", 81, True, False),
        (">", 70, False, True),
        (">", 75, False, False),
        ("<", 5, True, False),
    ],
)
def test_rule_comparisons(comparison: str, value: float, breached: bool, cleared: bool) -> None:
    if comparison == "<":
        rule = Rule(name="r", metric="m", comparison="<", threshold=10, resolve_threshold=20)
    else:
        rule = Rule(name="r", metric="m", comparison=comparison, threshold=80, resolve_threshold=70)
    assert rule.breached(value) is breached
    assert rule.cleared(value) is cleared
