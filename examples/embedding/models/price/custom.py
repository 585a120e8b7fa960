"""A price model: a base price plus a price per square metre."""

import pandas as pd


def load_model(code_dir):
    return {"base": 50_000.0, "per_m2": 3_000.0}


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": model["base"] + model["per_m2"] * data["m2"]})
