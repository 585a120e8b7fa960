"""The served process freezes its start-up heap once the model is loaded (``--gc-freeze``):
full collections skip what imports and the model made, and objects made later stay
collectable.  The model below reports what its own process sees."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import httpx
import pytest
from support.model_dirs import write_custom_py
from support.server import run_server

from drum_bridge import create_app

pytestmark = pytest.mark.server

REPORTING_MODEL = """
import gc

import pandas as pd

class Marker:
    pass


MADE_AT_LOAD = Marker()  # tracked by the collector, as every class instance


def load_model(code_dir):
    return MADE_AT_LOAD


def _collectable(obj):
    return any(o is obj for o in gc.get_objects())


def score(data, model, **kwargs):
    made_now = Marker()
    return pd.DataFrame({"Predictions": [
        float(gc.get_freeze_count()), float(_collectable(model)), float(_collectable(made_now)),
    ][: len(data)]})
"""

THREE_ROWS = b"x\n1\n2\n3\n"


def _report(tmp_path: Path, *args: str) -> tuple[list[float], str]:
    code_dir = write_custom_py(tmp_path / "gc", REPORTING_MODEL)
    with run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression", *args) as server:
        assert server.first_answer().status_code == 200
        response = httpx.post(server.base_url + "/predict/", content=THREE_ROWS,
                              headers={"Content-Type": "text/csv"}, timeout=30)
        assert response.status_code == 200, response.text
        assert server.terminate() == 0
    return response.json()["predictions"], server.stderr


def test_the_server_freezes_the_heap_the_model_was_loaded_into(tmp_path: Path) -> None:
    (frozen, model_collectable, later_collectable), log = _report(tmp_path)

    assert frozen > 10_000  # imports, pandas, the model: all of start-up
    assert model_collectable == 0.0, "what load_model made is frozen"
    assert later_collectable == 1.0, "what a request makes stays collectable"
    (logged,) = re.findall(r"Start-up heap frozen \((\d+) objects\)", log)
    assert int(logged) >= frozen  # frozen objects freed since (by reference counting) leave the count


def test_gc_freeze_off_leaves_the_heap_collectable(tmp_path: Path) -> None:
    (frozen, model_collectable, later_collectable), log = _report(
        tmp_path, "--gc-freeze", "off"
    )

    assert (frozen, model_collectable, later_collectable) == (0.0, 1.0, 1.0)
    assert "Start-up heap frozen" not in log


@pytest.mark.anyio
async def test_an_app_built_with_create_app_leaves_the_host_collector_alone(tmp_path: Path) -> None:
    app = create_app(code_dir=write_custom_py(tmp_path / "gc", REPORTING_MODEL), target_type="regression")
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == before == 0
