"""Build model.pkl, the example's artifact: a LinearRegression on deterministic synthetic data.

    python make_model.py             # (re)build model.pkl next to this file
    python make_model.py --if-stale  # build only if model.pkl is missing or was pickled by
                                     # another scikit-learn version (pickles are tied to it)

The model is trained on a DataFrame, so it knows its feature names and predicts on the
columns of input.csv: sqft, bedrooms, age_years.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.linear_model import LinearRegression

HERE = Path(__file__).resolve().parent
ARTIFACT = HERE / "model.pkl"
FEATURES = ["sqft", "bedrooms", "age_years"]


def training_data(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "sqft": rng.uniform(500, 3500, n).round(),
            "bedrooms": rng.integers(1, 6, n).astype(float),
            "age_years": rng.uniform(0, 80, n).round(1),
        }
    )
    noise = rng.normal(0, 10_000, n)
    y = 50_000 + 150 * X["sqft"] + 10_000 * X["bedrooms"] - 800 * X["age_years"] + noise
    return X, pd.Series(y, name="price")


def is_stale() -> bool:
    if not ARTIFACT.exists():
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            with ARTIFACT.open("rb") as fh:
                pickle.load(fh)
        except Exception:  # another sklearn version, or a damaged file: rebuild either way
            return True
    return False


def build() -> None:
    X, y = training_data()
    model = LinearRegression().fit(X, y)
    tmp = ARTIFACT.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(model, fh)
    tmp.replace(ARTIFACT)  # atomic, so a server never sees half a pickle
    coefs = ", ".join(f"{c}={w:.1f}" for c, w in zip(FEATURES, model.coef_, strict=True))
    print(f"wrote {ARTIFACT} (scikit-learn {sklearn.__version__}; {coefs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--if-stale",
        action="store_true",
        help="only build if model.pkl is missing or from another scikit-learn version",
    )
    args = parser.parse_args()
    if args.if_stale and not is_stale():
        print(f"{ARTIFACT} is up to date (scikit-learn {sklearn.__version__})")
        return
    build()


if __name__ == "__main__":
    main()
