"""Model dirs whose custom.py scores without a model, and what /predict/ answers them."""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pandas as pd
import scipy.io
import scipy.sparse
from starlette.testclient import TestClient

from .app import ClientResponse, drum_client, server_config
from .model_dirs import SAMPLES_CSV

__all__ = ["BINARY_LABELS", "KWARGS_ECHO", "MULTICLASS_LABELS", "NO_MODEL", "SAMPLES",
           "STRUCTURED_KWARGS", "extra_output", "matrix_market", "serve"]

BINARY_LABELS = ("--positive-class-label", "yes", "--negative-class-label", "no")
MULTICLASS_LABELS = ("--class-labels", "a", "b", "c")
SAMPLES = pd.read_csv(io.BytesIO(SAMPLES_CSV))
NO_MODEL = """\
import json

import pandas as pd


def load_model(code_dir):
    return "score() needs no model"

"""
#: score() answers a regression prediction of 0.0 and, in the extra column ``kwargs``, what
#: it was called with; classification models get equal probabilities for their labels.
KWARGS_ECHO = NO_MODEL + """
def score(data, model, **kwargs):
    seen = {
        "names": sorted(kwargs),
        "target_type": kwargs["target_type"].value,
        "mimetype": kwargs["mimetype"],
        "binary_data": kwargs["binary_data"].decode(),
    }
    labels = kwargs.get("class_labels") or [
        kwargs[name] for name in ("positive_class_label", "negative_class_label") if name in kwargs
    ]
    seen.update(labels=labels)
    columns = labels or ["Predictions"]
    out = pd.DataFrame({column: 1 / len(columns) for column in columns}, index=data.index)
    out["kwargs"] = json.dumps(seen)
    return out
"""
STRUCTURED_KWARGS = ["binary_data", "charset", "mimetype", "sparse_colnames", "target_type"]


def serve(
    code_dir: Path, target_type: str = "regression", *args: str
) -> AbstractContextManager[TestClient]:
    return drum_client(server_config(code_dir, target_type, *args))


def extra_output(response: ClientResponse) -> list[dict[str, Any]]:
    """``extraModelOutput`` (pandas' 'split' form) as one dict per row."""
    split = response.json()["extraModelOutput"]
    return [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]


def matrix_market(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    scipy.io.mmwrite(buffer, scipy.sparse.csr_matrix(frame.to_numpy()))
    return buffer.getvalue()


