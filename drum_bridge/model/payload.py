"""Samples as bytes and a media type, and turning them into data frames.

Nothing here knows HTTP: ``routes/samples.py`` collects a ``Payload`` from a
request on the event loop (cheap), and ``to_frame`` parses CSV or Matrix
Market in the model's worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from ..errors import UnprocessableEntityError

__all__ = ["Payload", "read_csv", "to_frame", "unsupported_format_message"]

_CSV_TYPES = frozenset({None, "", "text/csv", "text/plain"})
_MTX_TYPES = frozenset({"text/mtx"})


@dataclass(frozen=True)
class Payload:
    """The samples of one request, still as bytes."""

    data: bytes
    #: The media type, as DRUM gives it to score(): a raw body's (``""`` without a
    #: Content-Type), ``text/mtx`` for an uploaded ``.mtx`` file, None for an uploaded CSV.
    mimetype: str | None
    charset: str | None = None
    #: ``X.colnames`` of a sparse upload: one column name per line.
    colnames: bytes | None = None
    #: ``y`` of a transform request with a target.
    target: bytes | None = None

    @property
    def colnames_list(self) -> list[str] | None:
        if not self.colnames:
            return None
        return [c.strip() for c in self.colnames.decode().splitlines() if c.strip()]

    @property
    def is_sparse(self) -> bool:
        return self.mimetype in _MTX_TYPES


def unsupported_format_message(mimetype: str) -> str:
    return (
        f"payload format `{mimetype}` is not supported by predictor/transformer. Make DRUM"
        " support the format or implement `read_input_data` hook to read the data. "
    )


def to_frame(payload: Payload) -> pd.DataFrame:
    """Parse the samples; formats DRUM does not read need a ``read_input_data`` hook."""
    if payload.is_sparse:
        return _read_mtx(payload.data, payload.colnames_list)
    if payload.mimetype not in _CSV_TYPES:
        raise UnprocessableEntityError(unsupported_format_message(str(payload.mimetype)))
    return read_csv(payload.data, payload.charset)


def read_csv(data: bytes, charset: str | None = None) -> pd.DataFrame:
    """Samples as DRUM reads them; unreadable input is a 422 here (DRUM answers 500)."""
    encoding = charset or "utf-8"
    try:
        frame = pd.read_csv(io.BytesIO(data), encoding=encoding)
        if frame.shape[1] == 1:
            # One column: a blank line is a missing value, not a line to skip.
            frame = pd.read_csv(io.BytesIO(data), encoding=encoding, skip_blank_lines=False)
    except UnicodeDecodeError as exc:
        raise UnprocessableEntityError(
            f"Supplied CSV input file encoding must be {encoding.upper()}: {exc}"
        ) from exc
    except LookupError as exc:
        raise UnprocessableEntityError(f"Unknown charset {charset!r}") from exc
    except ValueError as exc:
        # pandas' EmptyDataError and ParserError are ValueErrors.
        raise UnprocessableEntityError(f"Pandas failed to read input binary data: {exc}") from exc
    return frame


def _read_mtx(data: bytes, columns: list[str] | None) -> pd.DataFrame:
    from scipy.io import mmread
    from scipy.sparse import csr_matrix

    try:
        matrix = csr_matrix(mmread(io.BytesIO(data)))
    except (ValueError, IndexError, TypeError) as exc:
        raise UnprocessableEntityError(
            f"Could not read the samples as Matrix Market (.mtx): {exc}"
        ) from exc
    if columns is not None and len(columns) != matrix.shape[1]:
            raise UnprocessableEntityError(
                f"X.colnames names {len(columns)} columns but the sparse matrix has"
                f" {matrix.shape[1]}"
            )
    frame: pd.DataFrame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=columns)  # type: ignore[attr-defined]
    return frame
