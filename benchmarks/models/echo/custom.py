"""An unstructured model that answers the request body as it came."""


def load_model(code_dir):
    return "echo"


def score_unstructured(model, data, query, **kwargs):
    return data
