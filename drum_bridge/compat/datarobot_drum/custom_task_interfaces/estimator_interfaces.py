"""Estimator tasks: ``predict`` for regression and anomaly, ``predict_proba`` for binary and
multiclass (one probability column per class label)."""

from __future__ import annotations

from typing import Any

from .custom_task_interface import CustomTaskInterface

__all__ = [
    "EstimatorInterface",
    "RegressionEstimatorInterface",
    "AnomalyEstimatorInterface",
    "BinaryEstimatorInterface",
    "MulticlassEstimatorInterface",
]


class EstimatorInterface(CustomTaskInterface):
    def predict(self, X: Any, **kwargs: Any) -> Any:
        """A data frame of predictions: one ``Predictions`` column."""
        raise NotImplementedError()


class RegressionEstimatorInterface(EstimatorInterface):
    pass


class AnomalyEstimatorInterface(EstimatorInterface):
    pass


class _ClassifierInterface(EstimatorInterface):
    def predict(self, X: Any, **kwargs: Any) -> Any:
        """Not used: classifiers are served through ``predict_proba``."""
        return None

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        """A data frame with one probability column per class label, named by it."""
        raise NotImplementedError()


class BinaryEstimatorInterface(_ClassifierInterface):
    pass


class MulticlassEstimatorInterface(_ClassifierInterface):
    pass
