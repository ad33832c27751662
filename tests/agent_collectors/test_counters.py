from __future__ import annotations

from agent.collectors.counters import CounterDeltas
from tests.agent_collectors.helpers import ManualClock


def test_first_reading_gives_nothing_then_deltas(clock: ManualClock) -> None:
    deltas: CounterDeltas[str] = CounterDeltas(clock)
    assert deltas.advance({"a": (10.0, 5.0)}) is None
    clock.advance(4)
    result = deltas.advance({"a": (30.0, 5.0)})
    assert result is not None
    assert result.elapsed == 4
    assert result.by_key == {"a": (20.0, 0.0)}


def test_reset_and_new_keys_are_skipped_for_one_round(clock: ManualClock) -> None:
    deltas: CounterDeltas[str] = CounterDeltas(clock)
    deltas.advance({"a": (100.0,), "b": (7.0,)})
    clock.advance(10)
    result = deltas.advance({"a": (3.0,), "b": (9.0,), "c": (1.0,)})
    assert result is not None and result.by_key == {"b": (2.0,)}
    clock.advance(10)
    result = deltas.advance({"a": (13.0,), "b": (9.0,), "c": (4.0,)})
    assert result is not None and result.by_key == {"a": (10.0,), "b": (0.0,), "c": (3.0,)}


def test_clock_that_did_not_move_gives_nothing(clock: ManualClock) -> None:
    deltas: CounterDeltas[str] = CounterDeltas(clock)
    deltas.advance({"a": (1.0,)})
    assert deltas.advance({"a": (2.0,)}) is None
    clock.advance(1)
    result = deltas.advance({"a": (5.0,)})
    assert result is not None and result.by_key == {"a": (3.0,)}


def test_changed_number_of_counters_is_treated_as_new(clock: ManualClock) -> None:
    deltas: CounterDeltas[str] = CounterDeltas(clock)
    deltas.advance({"a": (1.0,)})
    clock.advance(1)
    result = deltas.advance({"a": (2.0, 9.0)})
    assert result is not None and result.by_key == {}
