"""A churn model: the more support calls and the shorter the tenure, the likelier to leave."""

import math

import pandas as pd


def load_model(code_dir):
    return {"calls": 0.8, "tenure": -0.1, "bias": -1.0}


def score(data, model, **kwargs):
    z = model["bias"] + model["calls"] * data["calls"] + model["tenure"] * data["tenure"]
    yes = z.map(lambda v: 1.0 / (1.0 + math.exp(-v)))
    return pd.DataFrame({"yes": yes, "no": 1.0 - yes})
