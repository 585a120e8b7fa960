"""A regression model whose score() waits 50 ms on I/O (a remote call, a database) per request.

No artifact: load_model returns a constant; the prediction is the row index times 0.5.
"""

import time

import pandas as pd

WAIT_S = 0.05


def load_model(code_dir):
    return "io-wait"


def score(data, model, **kwargs):
    time.sleep(WAIT_S)
    return pd.DataFrame({"Predictions": [0.5 * i for i in range(len(data))]})
