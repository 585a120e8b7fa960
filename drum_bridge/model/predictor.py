"""The loaded model and the structured operations on it: predict and transform.

Everything here is synchronous and runs in the model's worker threads.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pandas as pd

from ..config import Config, TargetType
from ..errors import (
    DrumHTTPError,
    ModelLoadError,
    PredictionError,
    UnprocessableEntityError,
    is_user_http_error,
)
from . import output, unstructured
from .artifacts import find_artifact, load_artifact
from .deployment_output import (
    DeploymentTarget,
    check_deployment_target,
    encode_deployment_predictions,
    read_deployment_config,
)
from .frameworks import Framework, find_framework
from .hooks import CustomHooks, load_custom_hooks
from .payload import Payload, read_csv, to_frame
from .unstructured import UnstructuredAnswer, UnstructuredRequest

__all__ = ["LoadedModel", "load_model", "is_async", "LOAD_ERROR_PREFIX"]

logger = logging.getLogger("drum_bridge.model")

T = TypeVar("T")

LOAD_ERROR_PREFIX = "An error occurred when loading your artifact: "
NO_FRAMEWORK = (
    "\n\nRunning environment language: Python.\n"
    "Could not find any framework to handle loaded model and a score hook is not provided"
)


TRANSFORM_FAILED = "Model 'transform hook' failed to transform dataset."
SCORE_FAILED = "Model 'score' hook failed to make predictions."
NO_SCORE_UNSTRUCTURED = "In 'unstructured' mode hook 'score_unstructured' must be provided."
CHAT_ONLY = (
    "This model's custom.py defines chat but no score hook, and it has no artifact to score"
    " with: it answers /chat/completions only."
)


def is_async(func: Callable[..., Any] | None) -> bool:
    """Whether ``func`` is an ``async def`` function (or object): it is awaited on the loop."""
    return func is not None and (
        inspect.iscoroutinefunction(func)
        or inspect.iscoroutinefunction(type(func).__call__)  # an object with async __call__
    )


class DrumTransformException(Exception):
    """A transform hook that transformed the target too (named as DRUM names it)."""


def _transform_x_only(hook: Callable[..., Any], *args: Any) -> Any:
    result = hook(*args)
    if isinstance(result, tuple):
        raise DrumTransformException("Transformation of the target variable is not supported by DRUM.")
    return result


def _failure(what: str, exc: Exception) -> Exception:
    """What model code's exception becomes: DRUM's ``"<what> Exception: <repr>"`` 500,
    unless it already is an answer (a DRUM error, a user's ``CustomHTTPError``)."""
    if isinstance(exc, DrumHTTPError) or is_user_http_error(exc):
        return exc
    logger.exception("%s", what)
    return PredictionError(f"{what} Exception: {exc!r}")


def _guard(what: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run model code; its failure becomes DRUM's 500 (``_failure``)."""
    try:
        return func(*args, **kwargs)
    except Exception as exc:
        failure = _failure(what, exc)
        if failure is exc:
            raise
        raise failure from exc


async def _guard_async(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``_guard`` for an ``async def`` hook, awaited on the event loop."""
    try:
        return await func(*args, **kwargs)
    except Exception as exc:
        failure = _failure(what, exc)
        if failure is exc:
            raise
        raise failure from exc


@dataclass(frozen=True)
class LoadedModel:
    config: Config
    hooks: CustomHooks
    model: Any
    framework: Framework | None
    #: ``--deployment-config``: answer in DataRobot's prediction server shape.
    deployment: DeploymentTarget | None = None

    @property
    def predictor_name(self) -> str | None:
        """The artifact predictor ``/info/`` names; None, as in DRUM, when hooks serve the
        model (score or chat) or the target type scores no artifact (unstructured, transform)."""
        if (
            self.framework is None
            or self.hooks.score is not None
            or self.hooks.chat is not None
            or self.config.target_type in (TargetType.UNSTRUCTURED, TargetType.TRANSFORM)
        ):
            return None
        return self.framework.name

    def _score_kwargs(self, payload: Payload) -> dict[str, Any]:
        config = self.config
        kwargs: dict[str, Any] = {
            "binary_data": payload.data,
            "mimetype": payload.mimetype,
            "charset": payload.charset,
            "sparse_colnames": payload.colnames_list,
            "target_type": config.target_type,
        }
        if config.positive_class_label is not None:
            kwargs["positive_class_label"] = config.positive_class_label
            kwargs["negative_class_label"] = config.negative_class_label
        elif config.class_labels:
            kwargs["class_labels"] = list(config.class_labels)
        return kwargs

    def read_samples(self, payload: Payload) -> Any:
        if self.hooks.read_input_data is not None:
            return _guard(
                "Model 'read_input_data' hook failed to read input data.",
                self.hooks.read_input_data,
                payload.data,
            )
        return to_frame(payload)

    @functools.cached_property
    def score_is_async(self) -> bool:
        """An ``async def score``: awaited on the event loop, between two steps in threads."""
        return is_async(self.hooks.score)

    def predict(self, payload: Payload) -> bytes:
        """Score ``payload`` and answer the JSON body of ``/predict/`` (a sync score hook)."""
        return self.score_prepared(self.prepare(payload), payload)

    def score_prepared(self, data: Any, payload: Payload) -> bytes:
        """``predict`` after ``prepare``: score the samples, check and encode the answer."""
        if self.hooks.score is not None:
            out = _guard(SCORE_FAILED, self.hooks.score, data, self.model, **self._score_kwargs(payload))
            return self.finish(data, out)
        if self.framework is None:
            # load_model() lets a model without score hook and artifact load for chat only.
            raise UnprocessableEntityError(CHAT_ONLY)
        out = _guard(
            "Failure when making predictions.",
            self.framework.predict,
            self.model,
            data,
            self.config.target_type,
        )
        return self.finish(data, out, model_labels=self.framework.class_labels(self.model))

    def score_rows(self, data: Any, payload: Payload) -> tuple[Any, list[Any] | None]:
        """Score the rows of several requests in one call (``model.batch``): the raw output
        and the model's class order for ``finish``.  Unguarded: a failure goes up as it
        is, and the caller answers each request alone.  A row-wise score hook gets the
        keywords of ``payload`` (one of the requests) without its ``binary_data``.
        """
        if self.hooks.score is not None:
            kwargs = self._score_kwargs(payload)
            kwargs["binary_data"] = None
            return self.hooks.score(data, self.model, **kwargs), None
        if self.framework is None:
            raise UnprocessableEntityError(CHAT_ONLY)
        out = self.framework.predict(self.model, data, self.config.target_type)
        return out, self.framework.class_labels(self.model)

    def prepare(self, payload: Payload) -> Any:
        """The samples as score() gets them: read, then transformed by the transform hook."""
        data = self.read_samples(payload)
        if self.hooks.transform is not None:
            data = _guard(TRANSFORM_FAILED, self.hooks.transform, data, self.model)
        return data

    async def score_async(self, data: Any, payload: Payload) -> Any:
        """Await an ``async def score`` hook on the event loop."""
        assert self.hooks.score is not None
        return await _guard_async(
            SCORE_FAILED, self.hooks.score, data, self.model, **self._score_kwargs(payload)
        )

    def finish(self, data: Any, out: Any, *, model_labels: list[Any] | None = None) -> bytes:
        """Check and post-process what scoring returned; the JSON body of ``/predict/``.

        ``model_labels``: the class order of an artifact's framework; without it, a
        score hook's output is a data frame whose columns name the labels.
        """
        config, hooks = self.config, self.hooks
        if hooks.score is not None:
            out = output.check_frame(out, "score")
        target_name = config.target_name if config.target_type.needs_target_name else None
        result = output.marshal(
            out,
            target_type=config.target_type,
            request_labels=config.labels,
            model_labels=model_labels,
            target_name=target_name or output.PREDICTIONS_COLUMN,
        )
        if hooks.post_process is not None:
            processed = _guard(
                "Model 'post_process' hook failed to post-process predictions.",
                hooks.post_process,
                result.predictions_frame(),
                self.model,
            )
            if not isinstance(processed, pd.DataFrame):
                raise PredictionError(
                    f"Output of post_process hook must be a dataframe, not a {type(processed)}"
                )
            extra = result.extra
            result = output.marshal(
                processed, target_type=config.target_type, request_labels=config.labels
            )
            if extra is not None and result.extra is None:
                result = replace(result, extra=extra)
        # The row check needs rows: read_input_data may give another kind of data.
        rows = len(data) if isinstance(data, pd.DataFrame) else None
        if self.deployment is not None:
            return encode_deployment_predictions(
                result, self.deployment, rows=rows, target_type=config.target_type
            )
        return output.encode_predictions(result, rows=rows, target_type=config.target_type)

    @functools.cached_property
    def score_unstructured_is_async(self) -> bool:
        return is_async(self.hooks.score_unstructured)

    def score_unstructured(self, request: UnstructuredRequest) -> UnstructuredAnswer:
        """Decode, call a sync ``score_unstructured`` hook and encode its answer (in a thread).

        The hook's own exception goes up as it is: DRUM answers its message, unwrapped.
        """
        assert self.hooks.score_unstructured is not None
        data, kwargs = unstructured.hook_arguments(request)
        return unstructured.answer(self.hooks.score_unstructured(self.model, data, **kwargs))

    async def score_unstructured_async(self, request: UnstructuredRequest) -> UnstructuredAnswer:
        """``score_unstructured`` for an ``async def`` hook, awaited on the event loop."""
        assert self.hooks.score_unstructured is not None
        data, kwargs = unstructured.hook_arguments(request)
        return unstructured.answer(await self.hooks.score_unstructured(self.model, data, **kwargs))

    @functools.cached_property
    def _transform_takes_target(self) -> bool:
        """Whether the transform hook has a third parameter for y (read once, when first needed)."""
        assert self.hooks.transform is not None
        return len(inspect.signature(self.hooks.transform).parameters) >= 3

    def transform(self, payload: Payload) -> tuple[bytes, bytes | None]:
        """Transform ``payload``: the CSV of the transformed X, and y passed through."""
        data = self.read_samples(payload)
        target = read_csv(payload.target) if payload.target else None
        transform_hook = self.hooks.transform
        if transform_hook is not None:
            args = [data, self.model]
            if self._transform_takes_target:
                args.append(target)
            result = _guard(TRANSFORM_FAILED, _transform_x_only, transform_hook, *args)
            result = output.check_frame(result, "transform")
        else:
            assert self.framework is not None
            result = _guard(
                "Failure when making predictions.", self.framework.transform, self.model, data
            )
        if len(result) != len(data):
            raise PredictionError(
                "Transformation resulted in different number of rows than original data"
            )
        return output.frame_to_csv(result), None if target is None else output.frame_to_csv(target)


def load_model(config: Config) -> LoadedModel:
    """Import custom.py, run ``init`` and ``load_model`` or load the artifact."""
    deployment = _deployment_target(config)
    hooks = load_custom_hooks(config.code_dir, config)
    if config.target_type is TargetType.UNSTRUCTURED and hooks.score_unstructured is None:
        raise ModelLoadError(NO_SCORE_UNSTRUCTURED)
    if hooks.init is not None:
        # DRUM reports a failing init() as its own error, unwrapped.
        hooks.init(code_dir=str(config.code_dir))
    try:
        if hooks.load_model is not None:
            model = _load_step(
                "'load_model' hook failed to load the model.", hooks.load_model, str(config.code_dir)
            )
            if model is None:
                raise ModelLoadError("'load_model' hook failed to load model, None is returned.")
        else:
            model = load_artifact(find_artifact(config.code_dir))
        framework = find_framework(model)
        if framework is None and not _hooks_can_serve(hooks, config.target_type):
            raise ModelLoadError(NO_FRAMEWORK)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{LOAD_ERROR_PREFIX}{exc}") from exc
    logger.info("Model loaded (predictor: %s)", framework.name if framework else "custom hooks")
    return LoadedModel(
        config=config, hooks=hooks, model=model, framework=framework, deployment=deployment
    )


def _deployment_target(config: Config) -> DeploymentTarget | None:
    if config.deployment_config is None:
        return None
    target = read_deployment_config(config.deployment_config)
    check_deployment_target(target, config.target_type, config.labels)
    return target


def _load_step(what: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return func(*args, **kwargs)
    except ModelLoadError:
        raise  # already says what failed (a custom task's load)
    except Exception as exc:
        raise ModelLoadError(f"{what} Exception: {exc!r}") from exc


def _hooks_can_serve(hooks: CustomHooks, target_type: TargetType) -> bool:
    if target_type is TargetType.UNSTRUCTURED:
        return hooks.score_unstructured is not None
    if target_type is TargetType.TRANSFORM:
        return hooks.transform is not None
    return hooks.score is not None or hooks.chat is not None
