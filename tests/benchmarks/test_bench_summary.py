"""run.py's summary: errored rounds are marked and left out, ratios paired and oriented, targets."""

from __future__ import annotations

from typing import Any

from measure import Measurement, OpenLoopPoint
from report import markdown, summarize
from scenarios import Scenario, standard_variants

VARIANTS = standard_variants("/x/drum-bridge", "/x/drum")
PING = Scenario("ping", "wrk", "GET /ping/")
STARTUP = Scenario("startup", "startup", "start-up")
PREDICT = Scenario("predict_5", "wrk", "predict 5 rows")


def _m(round_index: int, variant: str, value: float | None, scenario: Scenario = PING,
       error: str | None = None, errors: int = 0) -> Measurement:
    return Measurement(round_index, variant, scenario.name, scenario.kind, value=value,
                       valid=error is None and errors == 0 and value is not None,
                       errors=errors, error=error, p99_ms=10.0 * round_index)


def test_an_errored_round_is_marked_and_left_out_of_medians_and_ratios() -> None:
    measurements = [
        _m(1, "bridge", 1000.0), _m(1, "drum", 500.0),
        _m(2, "bridge", 400.0), _m(2, "drum", None, error="server exited with 1"),
        _m(3, "bridge", 900.0), _m(3, "drum", 300.0),
    ]
    summary = summarize(measurements, [], VARIANTS, [PING])
    bridge, drum = summary.row("ping", "bridge"), summary.row("ping", "drum")
    assert bridge is not None and drum is not None
    assert (drum.value, drum.valid_runs, drum.runs, drum.marked) == (400.0, 2, 3, True)
    assert "ERROR in 1/3 round(s): server exited with 1" in drum.note
    # Paired by round: rounds 1 (2.0) and 3 (3.0); round 2 has no valid DRUM run.
    assert (bridge.vs_drum.median, bridge.vs_drum.low, bridge.vs_drum.high) == (2.5, 2.0, 3.0)
    assert bridge.vs_drum.pairs == 2 and not bridge.marked
    assert "**MARKED**" in markdown(summary, [PING], ["# t"])


def test_error_answers_make_a_run_invalid_and_a_scenario_without_valid_run_says_error() -> None:
    measurements = [_m(1, "bridge", 800.0, errors=3), _m(1, "drum", None, error="check failed")]
    summary = summarize(measurements, [], VARIANTS, [PING])
    bridge = summary.row("ping", "bridge")
    assert bridge is not None and bridge.value is None and bridge.errors == 3
    assert "1/1 run(s) with error answers" in bridge.note
    table = markdown(summary, [PING], ["# t"])
    assert "| ping | bridge | **ERROR** |" in table
    assert "| ping | drum | **ERROR** |" in table


def test_times_are_ratioed_so_that_above_one_favours_the_variant() -> None:
    measurements = [_m(1, "bridge", 2.0, STARTUP), _m(1, "drum", 6.0, STARTUP),
                    _m(1, "bridge-flask-auth", 2.5, STARTUP)]
    summary = summarize(measurements, [], VARIANTS, [STARTUP])
    bridge, hooked = summary.row("startup", "bridge"), summary.row("startup", "bridge-flask-auth")
    assert bridge is not None and hooked is not None
    assert bridge.vs_drum.median == 3.0  # DRUM took three times as long
    assert hooked.vs_plain.median == 0.8  # the hook made start-up slower
    assert hooked.vs_drum.median is None  # drum-flask-auth did not run


def _point(variant: str, fraction: float, offered: float, p99: float, basis: str = "own",
           client_bound: bool = False, errors: int = 0) -> OpenLoopPoint:
    result: dict[str, Any] = {"target_rate": offered, "achieved_rps": offered, "p50_ms": 1.0,
                              "p90_ms": 2.0, "p99_ms": p99, "errors": errors,
                              "client_bound": client_bound}
    return OpenLoopPoint(1, variant, "predict_5", fraction, offered / fraction, result, basis)


SAME_LOAD = "predict_5 open-loop p99 <= drum's at drum's loads"


def _verdicts(points: list[OpenLoopPoint]) -> dict[tuple[str, str], str]:
    measurements = [_m(1, "bridge", 600.0, PREDICT), _m(1, "drum", 300.0, PREDICT)]
    summary = summarize(measurements, points, VARIANTS, [PREDICT])
    return {(t.what, t.variant): t.verdict for t in summary.targets}


def test_throughput_and_same_load_p99_targets() -> None:
    drum = [_point("drum", 0.5, 150.0, 20.0), _point("drum", 1.0, 300.0, 900.0)]
    ours = [_point("bridge", 0.5, 300.0, 15.0), _point("bridge", 1.0, 600.0, 800.0)]
    at_drums = [_point("bridge", 0.5, 150.0, 5.0, "drum"), _point("bridge", 1.0, 300.0, 9.0, "drum")]
    verdicts = _verdicts(drum + ours + at_drums)
    assert verdicts["predict_5 req/s vs DRUM", "bridge"] == "PASS"  # 2.0x >= 1.5x
    assert verdicts[SAME_LOAD, "bridge"] == "PASS"

    slower = [_point("bridge", 0.5, 150.0, 5.0, "drum"), _point("bridge", 1.0, 300.0, 950.0, "drum")]
    assert _verdicts(drum + slower)[SAME_LOAD, "bridge"] == "FAIL"
    # Our own loads do not stand in for DRUM's: without runs at DRUM's loads there is no verdict.
    assert _verdicts(drum + ours)[SAME_LOAD, "bridge"] == "NO DATA"
    late = [at_drums[0], _point("bridge", 1.0, 300.0, 9.0, "drum", client_bound=True)]
    assert _verdicts(drum + late)[SAME_LOAD, "bridge"] == "UNSURE (client-bound)"
    failing = [at_drums[0], _point("bridge", 1.0, 300.0, 9.0, "drum", errors=4)]
    assert _verdicts(drum + failing)[SAME_LOAD, "bridge"] == "FAIL"


def test_the_open_loop_table_lists_every_load() -> None:
    points = [_point("bridge", 0.5, 300.0, 15.0), _point("bridge", 1.0, 600.0, 800.0),
              _point("bridge", 1.0, 200.0, 7.0, "drum")]
    summary = summarize([_m(1, "bridge", 600.0, PREDICT)], points, VARIANTS[:1], [PREDICT])
    table = markdown(summary, [PREDICT], ["# t"])
    assert "| predict_5 | bridge | 50% of own | 300.0 | 300.0 |" in table
    assert "| predict_5 | bridge | 100% of own | 600.0 | 600.0 |" in table
    assert "| predict_5 | bridge | 100% of drum | 200.0 | 200.0 |" in table
