"""Transform tasks: ``transform(X)`` returns the transformed data frame."""

from __future__ import annotations

from typing import Any

from .custom_task_interface import CustomTaskInterface

__all__ = ["TransformerInterface"]


class TransformerInterface(CustomTaskInterface):
    def transform(self, X: Any) -> Any:
        raise NotImplementedError()
