"""Adaptive batching, the pure half: which requests may share one model call, and sharing it.

Nothing here knows asyncio or HTTP: ``drum_bridge.batcher`` gathers the requests
that arrive while the model is busy and runs ``predict_together`` in a model
thread.  The rule is that every request gets the answer it would have got
alone, byte for byte:

- each request's samples are read (and transformed) on their own, exactly as
  ``LoadedModel.predict`` reads them, so a request that cannot be read gets its
  own error and nobody else's;
- only data frames alike in every respect that could change the model's answer
  (same column names in the same order, same dtypes, no extension dtype other
  than strings, at least one row, a fresh 0..n-1 index) are scored together, in
  one call on their concatenation;
- the output is split back by rows, and each request's slice is checked and
  encoded by ``LoadedModel.finish`` as its own answer would have been;
- a combined call that fails, or answers anything but one row per input row, is
  not trusted: each of its requests is then scored alone;
- with ``check``, every request of a combined call is scored alone too and gets
  that answer; the report says whether the two answers differed in any byte (a
  model whose arithmetic runs through BLAS may round a row's last bit otherwise
  in a larger call), so that ``--batching auto`` can stop batching the model.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import Batching, TargetType
from .payload import Payload
from .predictor import LoadedModel

__all__ = [
    "Answer",
    "BatchLimits",
    "BatchReport",
    "batching_applies",
    "can_join",
    "estimated_rows",
    "frame_signature",
    "joinable_rows",
    "predict_together",
]

logger = logging.getLogger("drum_bridge.model")

_CSV_TYPES = frozenset({None, "", "text/csv", "text/plain"})
#: Target types whose ``/predict/`` answers one value or one probability per label a row.
_BATCHED_TARGETS = frozenset({
    TargetType.REGRESSION, TargetType.BINARY, TargetType.MULTICLASS, TargetType.ANOMALY,
    TargetType.MULTILABEL,
})


@dataclass(frozen=True)
class BatchLimits:
    max_rows: int
    max_requests: int


def batching_applies(model: LoadedModel) -> bool:
    """Whether ``/predict/`` requests of ``model`` may be batched under its settings.

    With ``--batching on``: an artifact scored by its framework; a sync custom
    ``score`` hook only when the user declared it row-wise.  Never with a
    ``read_input_data`` hook (its data is not known to be rows) or
    ``--deployment-config`` output.
    """
    config, hooks = model.config, model.hooks
    if config.batching is Batching.OFF or config.target_type not in _BATCHED_TARGETS:
        return False
    if hooks.read_input_data is not None or model.deployment is not None:
        return False
    if hooks.score is not None:
        return config.batch_row_wise_score and not model.score_is_async
    return model.framework is not None


#: Bytes counted at a time by ``estimated_rows`` with a bound.
_COUNT_STEP = 16384


def estimated_rows(payload: Payload, at_most: int | None = None) -> int:
    """The rows of a CSV payload, counted by line ends, on the event loop.

    With ``at_most``, counting stops once the count passes it, and some number above
    it is answered: a large payload that cannot join a batch is not scanned whole
    (counting the 190 kB of 10,000 rows took 135 us of the loop).
    """
    data = payload.data
    size = len(data)
    bound = size if at_most is None else at_most
    rows = start = 0
    while start < size and rows <= bound:
        rows += data.count(b"\n", start, start + _COUNT_STEP)
        start += _COUNT_STEP
    return max(1, rows)


def joinable_rows(payload: Payload, limits: BatchLimits) -> int | None:
    """The rows of ``payload`` if it may wait to share a call (small CSV samples), else None."""
    if payload.mimetype not in _CSV_TYPES or payload.colnames is not None or payload.target is not None:
        return None
    rows = estimated_rows(payload, limits.max_rows)
    return rows if rows <= limits.max_rows else None


def can_join(payload: Payload, limits: BatchLimits) -> bool:
    """Whether ``payload`` may wait to share a call: small CSV samples, nothing else."""
    return joinable_rows(payload, limits) is not None


def _plain_dtype(dtype: Any) -> bool:
    # Categoricals would merge their categories; other extension types are not vetted.
    return isinstance(dtype, (np.dtype, pd.StringDtype))


def frame_signature(data: Any, payload: Payload) -> Hashable | None:
    """What must be equal for two requests' samples to be scored together; None: never."""
    if not isinstance(data, pd.DataFrame) or len(data) == 0:
        return None
    index, columns = data.index, data.columns
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        return None
    if isinstance(columns, pd.MultiIndex) or not columns.is_unique:
        return None
    dtypes = tuple(data.dtypes)
    if not all(_plain_dtype(dtype) for dtype in dtypes):
        return None
    names = tuple((type(name), name) for name in columns)
    # The media type and charset reach a score hook's keywords.
    return (names, str(columns.dtype), tuple(str(d) for d in dtypes), payload.mimetype, payload.charset)


@dataclass
class Answer:
    """One request's answer: the ``/predict/`` body, or the exception it raises."""

    body: bytes | None = None
    error: Exception | None = None


@dataclass
class BatchReport:
    """What ``predict_together`` did: each request's answer, in order, and the model calls."""

    answers: list[Answer]
    #: (requests, rows) of each model call made.
    calls: list[tuple[int, int]] = field(default_factory=list)
    #: Combined calls that failed or answered the wrong shape, their requests scored alone.
    rescored_alone: int = 0
    #: With ``check``: requests whose batched answer was compared with their answer alone,
    #: each by a model call of its own (not in ``calls``).
    checked: int = 0
    #: With ``check``: requests whose two answers differed; the first one's answers.
    differed: int = 0
    difference: tuple[Answer, Answer] | None = None


def _alone(model: LoadedModel, data: Any, payload: Payload) -> Answer:
    try:
        return Answer(body=model.score_prepared(data, payload))
    except Exception as exc:
        return Answer(error=exc)


def _split(out: Any, sizes: Sequence[int]) -> list[Any] | None:
    """``out`` cut into one slice per request, or None when it is not one row per input row."""
    total = sum(sizes)
    bounds = np.cumsum([0, *sizes])
    if isinstance(out, pd.DataFrame):
        index = out.index
        if len(out) != total or not (
            isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
        ):
            return None
        return [
            out.iloc[start:stop].reset_index(drop=True)
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    if not isinstance(out, np.ndarray) or out.ndim not in (1, 2) or out.shape[0] != total:
        return None
    return [out[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def _score_group(
    model: LoadedModel, members: list[tuple[int, Any, Payload]], report: BatchReport, check: bool
) -> None:
    """Score ``members`` (position, prepared frame, payload) in one call, or each alone.

    With ``check``, each member is also scored alone, and answered that way.
    """
    frames = [data for _, data, _ in members]
    sizes = [len(frame) for frame in frames]
    slices: list[Any] | None = None
    labels: list[Any] | None = None
    try:
        combined = pd.concat(frames, ignore_index=True)
        if list(combined.dtypes) == list(frames[0].dtypes) and len(combined) == sum(sizes):
            out, labels = model.score_rows(combined, members[0][2])
            report.calls.append((len(members), len(combined)))
            slices = _split(out, sizes)
    except Exception:
        logger.debug("A batched model call failed; its requests are scored alone", exc_info=True)
    if slices is None:
        report.rescored_alone += 1
        for position, data, payload in members:
            report.answers[position] = _alone(model, data, payload)
            report.calls.append((1, len(data)))
        return
    for (position, data, payload), part in zip(members, slices, strict=True):
        try:
            batched = Answer(body=model.finish(data, part, model_labels=labels))
        except Exception as exc:
            batched = Answer(error=exc)
        if check:
            alone = _alone(model, data, payload)
            report.checked += 1
            if not _same(batched, alone):
                report.differed += 1
                if report.difference is None:
                    report.difference = (alone, batched)
            batched = alone
        report.answers[position] = batched


def _same(one: Answer, other: Answer) -> bool:
    """The two answers reach the client alike: the same body, or the same error."""
    if one.error is None or other.error is None:
        return one.error is None and other.error is None and one.body == other.body
    return type(one.error) is type(other.error) and str(one.error) == str(other.error)


def predict_together(
    model: LoadedModel, payloads: Sequence[Payload], *, check: bool = False
) -> BatchReport:
    """Answer every payload as ``model.predict`` would alone, sharing model calls where safe.

    Runs in a model thread.  Never raises for one request's failure: each answer
    holds its own body or exception.  ``check``: see the module's docstring.
    """
    report = BatchReport(answers=[Answer() for _ in payloads])
    groups: dict[Hashable, list[tuple[int, Any, Payload]]] = {}
    for position, payload in enumerate(payloads):
        try:
            data = model.prepare(payload)
        except Exception as exc:
            report.answers[position] = Answer(error=exc)
            continue
        signature = frame_signature(data, payload)
        if signature is None:
            report.answers[position] = _alone(model, data, payload)
            report.calls.append((1, len(data) if isinstance(data, pd.DataFrame) else 0))
            continue
        groups.setdefault(signature, []).append((position, data, payload))
    for members in groups.values():
        if len(members) == 1:
            position, data, payload = members[0]
            report.answers[position] = _alone(model, data, payload)
            report.calls.append((1, len(data)))
        else:
            _score_group(model, members, report, check)
    return report
