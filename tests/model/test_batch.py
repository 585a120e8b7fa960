"""model/batch.py: which requests may share a model call, and answers split back as alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.model_dirs import (
    batch_sensitive_regressor,
    fitted_regressor,
    write_custom_py,
    write_pickle,
)

from drum_bridge import Config, TargetType
from drum_bridge.config import Batching
from drum_bridge.errors import PredictionError, UnprocessableEntityError
from drum_bridge.model.batch import (
    BatchLimits,
    batching_applies,
    can_join,
    estimated_rows,
    frame_signature,
    predict_together,
)
from drum_bridge.model.payload import Payload
from drum_bridge.model.predictor import LoadedModel, load_model

CSV = "text/csv"


def csv(text: str) -> Payload:
    return Payload(data=text.encode(), mimetype=CSV)


def regressor(tmp_path: Path, **settings: Any) -> LoadedModel:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    return load_model(Config(code_dir=code_dir, target_type=TargetType.REGRESSION, **settings))


def hook_model(tmp_path: Path, source: str, **settings: Any) -> LoadedModel:
    code_dir = write_custom_py(tmp_path / "hooks", source)
    return load_model(Config(code_dir=code_dir, target_type=TargetType.REGRESSION, **settings))


ROW_WISE_SCORE = """
import pandas as pd

def load_model(code_dir):
    return "no model"

def score(data, model, **kwargs):
    {body}
"""


def answers(model: LoadedModel, payloads: list[Payload]) -> list[tuple[bytes | None, str | None]]:
    report = predict_together(model, payloads)
    return [(a.body, None if a.error is None else repr(a.error)) for a in report.answers]


def alone(model: LoadedModel, payloads: list[Payload]) -> list[tuple[bytes | None, str | None]]:
    result: list[tuple[bytes | None, str | None]] = []
    for payload in payloads:
        try:
            result.append((model.predict(payload), None))
        except Exception as exc:
            result.append((None, repr(exc)))
    return result


# --- which payloads and models ----------------------------------------------------------


def test_small_csv_payloads_may_join_others_may_not() -> None:
    limits = BatchLimits(max_rows=3, max_requests=8)
    assert can_join(csv("a,b\n1,2\n3,4\n"), limits)
    assert can_join(Payload(data=b"a\n1\n", mimetype=None), limits)  # an uploaded CSV
    assert not can_join(csv("a,b\n1,2\n3,4\n5,6\n"), limits)  # more rows than a batch holds
    assert not can_join(Payload(data=b"%%MatrixMarket", mimetype="text/mtx"), limits)
    assert not can_join(Payload(data=b"a\n1\n", mimetype=None, colnames=b"a"), limits)
    assert not can_join(Payload(data=b"{}", mimetype="application/json"), limits)
    assert estimated_rows(csv("a,b\n1,2\n3,4")) == 2


def test_rows_are_counted_exactly_up_to_the_limit_across_a_large_payload() -> None:
    limits = BatchLimits(max_rows=1000, max_requests=8)
    line = b"x" * 99 + b"\n"  # 100 kB for 1,000 lines: several counting steps
    assert can_join(Payload(data=line * 1000, mimetype="text/csv"), limits)
    assert not can_join(Payload(data=line * 1001, mimetype="text/csv"), limits)
    assert not can_join(Payload(data=b"1\n" * 200_000, mimetype="text/csv"), limits)
    assert estimated_rows(Payload(data=line * 1000, mimetype="text/csv"), 1000) == 1000
    # Counting stopped soon after the limit: far fewer than the 200,000 line ends were seen.
    assert 1000 < estimated_rows(Payload(data=b"1\n" * 200_000, mimetype="text/csv"), 1000) < 20_000
    assert estimated_rows(Payload(data=b"1\n" * 200_000, mimetype="text/csv")) == 200_000
    assert estimated_rows(Payload(data=b"", mimetype="text/csv"), 10) == 1


def test_frame_signature_refuses_what_concatenation_could_change() -> None:
    payload = csv("a\n1\n")
    plain = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"]})
    assert frame_signature(plain, payload) is not None
    assert frame_signature(plain, payload) == frame_signature(plain.copy(), payload)
    assert frame_signature(plain[["b", "a", "c"]], payload) != frame_signature(plain, payload)
    assert frame_signature(plain.astype({"a": float}), payload) != frame_signature(plain, payload)
    refused = {
        "no rows": plain.head(0),
        "categorical": plain.astype({"c": "category"}),
        "sparse": plain[["a"]].astype(pd.SparseDtype(int, 0)),
        "index": plain.set_index("a"),
        "sliced index": plain.iloc[1:],
        "duplicate columns": pd.DataFrame([[1, 2]], columns=["a", "a"]),
        "not a frame": [[1, 2]],
    }
    for why, data in refused.items():
        assert frame_signature(data, payload) is None, why
    assert frame_signature(plain, Payload(data=b"", mimetype=CSV, charset="latin-1")) != (
        frame_signature(plain, payload)
    )


def test_batching_applies_to_artifacts_and_opted_in_score_hooks(tmp_path: Path) -> None:
    assert batching_applies(regressor(tmp_path / "auto"))  # auto by default
    assert batching_applies(regressor(tmp_path / "on", batching=Batching.ON))
    assert not batching_applies(regressor(tmp_path / "off", batching=Batching.OFF))
    body = "return pd.DataFrame({'Predictions': data.a * 2})"
    row_wise = {"batch_row_wise_score": True}
    assert not batching_applies(hook_model(tmp_path / "h1", ROW_WISE_SCORE.format(body=body)))
    assert batching_applies(hook_model(tmp_path / "h2", ROW_WISE_SCORE.format(body=body), **row_wise))
    async_score = ROW_WISE_SCORE.replace("def score", "async def score").format(body=body)
    assert not batching_applies(hook_model(tmp_path / "h3", async_score, **row_wise))
    reader = ROW_WISE_SCORE.format(body=body) + "\ndef read_input_data(binary_data):\n    return binary_data\n"
    assert not batching_applies(hook_model(tmp_path / "h4", reader, **row_wise))
    model = regressor(tmp_path / "t")
    transform = dataclasses.replace(model, config=dataclasses.replace(
        model.config, target_type=TargetType.TRANSFORM))
    assert not batching_applies(transform)


# --- answers ------------------------------------------------------------------------------


def test_requests_alike_share_one_call_and_get_their_own_rows(tmp_path: Path) -> None:
    model = regressor(tmp_path)
    payloads = [csv("a,b\n1,2\n3,4\n"), csv("a,b\n5,6\n"), csv("a,b\n0,0\n1,1\n2,2\n")]

    report = predict_together(model, payloads)

    assert report.calls == [(3, 6)]
    assert [a.body for a in report.answers] == [body for body, _ in alone(model, payloads)]
    assert report.answers[1].body == b'{"predictions":[17.0]}'


def test_requests_unlike_are_scored_apart_each_as_alone(tmp_path: Path) -> None:
    model = regressor(tmp_path)
    payloads = [
        csv("a,b\n1,2\n"),
        csv("b,a\n2,1\n"),         # other column order: the model refuses it, alone
        csv("a,b\n1.5,2\n"),       # other dtype: its own call
        csv("a,b\n1,2\n3,\n"),     # a missing value (float column): its own call, fails alone
        csv("a,b\n1,2,3\n4\n"),    # not CSV the model reads
        csv("a,b\n7,8\n"),
    ]
    report = predict_together(model, payloads)

    assert answers(model, payloads) == alone(model, payloads)
    assert (2, 2) in report.calls  # the two integer frames shared a call
    assert sum(requests for requests, _ in report.calls) == len(payloads)


def test_a_checked_call_answers_alone_and_reports_what_differed(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", batch_sensitive_regressor())
    model = load_model(Config(code_dir=code_dir, target_type=TargetType.REGRESSION))
    payloads = [csv("a,b\n1,2\n3,4\n"), csv("a,b\n5,6\n"), csv("a,b\n0,0\n")]

    unchecked = predict_together(model, payloads)
    checked = predict_together(model, payloads, check=True)

    expected = alone(model, payloads)
    assert [a.body for a in unchecked.answers] != [body for body, _ in expected]  # 4 rows: + 1e-6
    assert (unchecked.checked, unchecked.differed) == (0, 0)
    assert [a.body for a in checked.answers] == [body for body, _ in expected]
    assert (checked.checked, checked.differed) == (3, 3)
    assert checked.difference is not None
    alone_answer, batched_answer = checked.difference
    assert (alone_answer.body, batched_answer.body) == (
        b'{"predictions":[5.0,11.0]}', b'{"predictions":[5.000001,11.000001]}'
    )
    assert checked.calls == [(3, 4)]  # and each request alone, counted in checked


def test_a_checked_call_of_an_exact_model_reports_no_difference(tmp_path: Path) -> None:
    model = regressor(tmp_path)
    payloads = [csv("a,b\n1,2\n3,4\n"), csv("a,b\n5,6\n"), csv("a,b\n1,2,3\n")]

    report = predict_together(model, payloads, check=True)

    assert answers(model, payloads) == alone(model, payloads)
    assert (report.checked, report.differed, report.difference) == (2, 0, None)


def test_a_failing_combined_call_is_rescored_alone(tmp_path: Path) -> None:
    model = regressor(tmp_path)
    # One float frame with a missing value, which LinearRegression refuses.
    payloads = [csv("a,b\n1.5,\n"), csv("a,b\n1.5,2.5\n"), csv("a,b\n0.5,0.25\n")]

    report = predict_together(model, payloads)

    assert report.rescored_alone == 1
    assert [(a.body, repr(a.error) if a.error else None) for a in report.answers] == alone(model, payloads)
    assert isinstance(report.answers[0].error, PredictionError)
    assert report.answers[1].body == b'{"predictions":[6.5]}'


def test_unreadable_samples_answer_their_own_error(tmp_path: Path) -> None:
    model = regressor(tmp_path)
    payloads = [csv("a,b\n1,2\n"), Payload(data=b"a,b\n\xff,1\n", mimetype=CSV), csv("a,b\n3,4\n")]

    report = predict_together(model, payloads)

    assert isinstance(report.answers[1].error, UnprocessableEntityError)
    assert report.calls == [(2, 2)]
    assert [a.body for a in report.answers] == [b'{"predictions":[5.0]}', None, b'{"predictions":[11.0]}']


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("return pd.DataFrame({'Predictions': [1.0]})", id="one-row"),
        pytest.param("return [1.0] * len(data)", id="not-a-frame"),
        pytest.param(
            "return pd.DataFrame({'Predictions': data.a * 2.0}, index=data.index + 10)",
            id="other-index",
        ),
    ],
)
def test_a_row_wise_score_answering_another_shape_is_rescored_alone(tmp_path: Path, body: str) -> None:
    model = hook_model(tmp_path, ROW_WISE_SCORE.format(body=body), batch_row_wise_score=True)
    payloads = [csv("a\n1\n2\n"), csv("a\n3\n")]

    report = predict_together(model, payloads)

    assert report.rescored_alone == 1
    assert answers(model, payloads) == alone(model, payloads)


def test_a_row_wise_score_with_extra_columns_answers_as_alone(tmp_path: Path) -> None:
    body = "return pd.DataFrame({'Predictions': data.a * 2.0, 'note': data.a.astype(str) + '!'})"
    model = hook_model(tmp_path, ROW_WISE_SCORE.format(body=body), batch_row_wise_score=True)
    payloads = [csv("a\n1\n2\n"), csv("a\n3\n")]

    report = predict_together(model, payloads)

    assert report.calls == [(2, 3)]
    assert answers(model, payloads) == alone(model, payloads)
    assert b'"extraModelOutput"' in (report.answers[1].body or b"")
