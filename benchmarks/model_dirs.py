"""The models the benchmarks serve, and the payloads they send them.

A pickled scikit-learn ``LinearRegression`` is built at run time by the interpreter that will
load it (a pickle is tied to its scikit-learn version). The others are plain ``custom.py``
files under ``benchmarks/models/``; the migration guide's auth examples are in
``benchmarks/models/extensions/``, copied into a code dir as ``custom_flask.py`` or
``custom_fastapi.py``.
"""

from __future__ import annotations

import random
import shlex
import shutil
import subprocess
from pathlib import Path

from _harness import BenchmarkError

MODELS_DIR = Path(__file__).resolve().parent / "models"
EXTENSIONS_DIR = MODELS_DIR / "extensions"
PAYLOAD_ROWS = {"5_rows": 5, "10k_rows": 10_000}
CSV_HEADERS = {"Content-Type": "text/csv"}

MODEL_SNIPPET = """
import pickle, sys
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.random((200, 2)), columns=["a", "b"])
y = 2.0 * X["a"] - 3.0 * X["b"] + 1.0
with open(sys.argv[1], "wb") as f:
    pickle.dump(LinearRegression().fit(X, y), f)
"""


def server_command(executable: Path | str, target_type: str = "regression") -> str:
    """``drum server``'s command line (DRUM and drum-bridge alike), ``{port}``/``{code_dir}`` left open."""
    return (
        f"{shlex.quote(str(executable))} server --code-dir {{code_dir}}"
        f" --address 127.0.0.1:{{port}} --target-type {target_type}"
    )


def build_model(python: str, code_dir: Path) -> None:
    """Pickle a 2-feature LinearRegression with the interpreter that will load it."""
    code_dir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [python, "-c", MODEL_SNIPPET, str(code_dir / "model.pkl")],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"building the model with {python} failed:\n{completed.stderr}")


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` rows of columns ``a,b`` (floats, fixed seed), with a header line."""
    rng = random.Random(seed)
    lines = [
        "a,b",
        *(f"{rng.uniform(-10, 10):.6f},{rng.uniform(-10, 10):.6f}" for _ in range(rows)),
    ]
    path.write_text("\n".join(lines) + "\n")


def code_dir_for(
    workdir: Path, model: str, extension: str | None, pickled_model: Path | None
) -> Path:
    """A code dir holding ``model`` (``regression`` or a folder of ``models/``) and an extension.

    ``extension`` is ``custom_flask.py`` or ``custom_fastapi.py`` (from ``models/extensions``)
    or None. The dir is built once per (model, extension) and reused.
    """
    code_dir = workdir / "code" / f"{model}-{extension or 'none'}".replace(".py", "")
    if code_dir.exists():
        return code_dir
    code_dir.mkdir(parents=True)
    if model == "regression":
        if pickled_model is None:
            raise BenchmarkError("the regression model was not built")
        shutil.copy2(pickled_model, code_dir / "model.pkl")
    else:
        shutil.copy2(MODELS_DIR / model / "custom.py", code_dir / "custom.py")
    if extension is not None:
        shutil.copy2(EXTENSIONS_DIR / extension, code_dir / extension)
    return code_dir
