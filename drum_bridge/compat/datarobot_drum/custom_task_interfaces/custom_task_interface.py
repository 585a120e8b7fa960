"""``CustomTaskInterface``: what every custom task is; saving and loading it as one pickle.

At serving time the server calls ``CustomTask.load(code_dir)`` (by default: unpickle
``drum_artifact.pkl``, which ``save`` wrote after ``fit``), sets ``secrets``, then calls
``predict``/``predict_proba`` or ``transform``.
"""

from __future__ import annotations

import logging
import os
import pickle
from typing import Any, TypeVar

from ..drum.exceptions import DrumSerializationError

__all__ = ["CustomTaskInterface", "Serializable"]

logger = logging.getLogger("drum.custom_task_interface")

S = TypeVar("S", bound="Serializable")


class Serializable:
    default_artifact_filename = "drum_artifact.pkl"

    def save(self: S, artifact_directory: str) -> S:
        """Pickle this task into ``artifact_directory``; returns it, for chaining."""
        self.save_task(artifact_directory)
        return self

    def save_task(self, artifact_directory: str, exclude: list[str] | None = None) -> None:
        """Pickle this task, with the attributes named in ``exclude`` saved as None
        (save those yourself, e.g. a keras model, and restore them in ``load``)."""
        kept: dict[str, Any] = {}
        for name in exclude or ():
            if not hasattr(self, name):
                raise DrumSerializationError(
                    f"The object named {name} passed in exclude= was not found"
                )
            kept[name] = getattr(self, name)
            setattr(self, name, None)
        try:
            path = os.path.join(artifact_directory, Serializable.default_artifact_filename)
            with open(path, "wb") as file:
                pickle.dump(self, file)
        finally:
            for name, value in kept.items():
                setattr(self, name, value)

    @classmethod
    def load(cls: type[S], artifact_directory: str) -> S:
        """The task to serve, from ``artifact_directory`` (the code dir)."""
        return cls.load_task(artifact_directory)

    @classmethod
    def load_task(cls: type[S], artifact_directory: str) -> S:
        path = os.path.join(artifact_directory, Serializable.default_artifact_filename)
        with open(path, "rb") as file:
            task = pickle.load(file)
        if not isinstance(task, cls):
            raise DrumSerializationError(f"load_task method must return a {cls.__name__} class")
        return task


class CustomTaskInterface(Serializable):
    _secrets: dict[str, Any] | None = None

    @property
    def secrets(self) -> dict[str, Any]:
        """The user secrets, by name (``--user-secrets-mount-path``, ``--user-secrets-prefix``)."""
        return self._secrets or {}

    @secrets.setter
    def secrets(self, secrets: dict[str, Any] | None) -> None:
        self._secrets = secrets

    def fit(self, X: Any, y: Any, parameters: Any = None, row_weights: Any = None, **kwargs: Any) -> Any:
        """Training, run by DataRobot (or ``drum fit``); not used when serving."""
        raise NotImplementedError()

    @staticmethod
    def log_message(message: str) -> None:
        """Deprecated in DRUM: use the logging module."""
        logger.info(message)
