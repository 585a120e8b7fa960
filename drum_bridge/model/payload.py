"""Samples as bytes and a media type, and turning them into data frames.

Nothing here knows HTTP: ``routes/samples.py`` collects a ``Payload`` from a
request on the event loop (cheap), and ``to_frame`` parses CSV or Matrix
Market in the model's worker thread.

CSV is read as ``pandas.read_csv`` reads it (DRUM's reader).  A small CSV of
plain numbers (ASCII, a header of distinct names, only digits, ``-``, ``.``
and ``,`` below it, every row as wide as the header) takes a quicker reader
that makes the frame ``read_csv`` would make (same dtypes, values, column
names, index; tests compare the two on generated inputs): on a 5-row body it
costs a quarter of ``read_csv``'s fixed cost.  Anything else goes to pandas.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import UnprocessableEntityError

__all__ = [
    "QUICK_CSV_MAX_BYTES", "Payload", "read_csv", "read_csv_with_pandas", "read_plain_numbers",
    "to_frame",
    "unsupported_format_message",
]

_CSV_TYPES = frozenset({None, "", "text/csv", "text/plain"})
_MTX_TYPES = frozenset({"text/mtx"})
#: The quick reader takes bodies up to this size (past it, pandas' fixed cost is paid back).
QUICK_CSV_MAX_BYTES = 16 * 1024
#: The only bytes the quick reader accepts below the header.
_PLAIN_NUMBER_BYTES = b"0123456789,.-\n"
#: Charsets the quick reader accepts, spelled without case, ``-`` or ``_``.
_ASCII_COMPATIBLE = frozenset({"utf8", "ascii", "usascii"})
#: Integers of up to 18 digits fit int64; floats of up to 15 significant digits are
#: read alike by every correctly rounding parser.
_MAX_INT_DIGITS = 18
_MAX_FLOAT_CHARS = 17  # sign, point and 15 digits


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
    quick = read_plain_numbers(data, charset)
    return quick if quick is not None else read_csv_with_pandas(data, charset)


def read_csv_with_pandas(data: bytes, charset: str | None = None) -> pd.DataFrame:
    """``read_csv`` without the quick reader: always ``pandas.read_csv``."""
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


def read_plain_numbers(data: bytes, charset: str | None = None) -> pd.DataFrame | None:
    """The frame ``pandas.read_csv`` makes of ``data`` when it is a small CSV of plain
    numbers (see the module's docstring); None when it is not: let pandas read it."""
    if len(data) > QUICK_CSV_MAX_BYTES or not data.isascii():
        return None
    if charset is not None and charset.lower().replace("-", "").replace("_", "") not in _ASCII_COMPATIBLE:
        return None
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        data = data.replace(b"\r\n", b"\n")
    header, newline, body = data.removesuffix(b"\n").partition(b"\n")
    if b"," in header:  # pandas skips blank lines at the end (one column: see below)
        body = body.rstrip(b"\n")
    if not newline or not body or b'"' in header or body.translate(None, _PLAIN_NUMBER_BYTES):
        return None
    names = header.decode("ascii").split(",")
    if any(not name or name != name.strip() for name in names) or len(set(names)) != len(names):
        return None
    rows = [row.split(",") for row in body.decode("ascii").split("\n")]
    width = len(names)
    # A blank line among several columns is skipped by pandas: not plain.  With one
    # column it is a missing value, as DRUM reads it.
    if any(len(row) != width for row in rows):
        return None
    columns: dict[str, np.ndarray] = {}
    for name, values in zip(names, zip(*rows, strict=True), strict=True):
        column = _plain_column(values)
        if column is None:
            return None
        columns[name] = column
    frame: pd.DataFrame = pd.DataFrame(columns)
    return frame


def _plain_column(values: tuple[str, ...]) -> np.ndarray | None:
    """int64 when every value is a whole number, else float64 (empty: missing); None
    when a value is not a plain number."""
    if all(_whole(value) for value in values):
        return np.array([int(value) for value in values], dtype=np.int64)
    floats = []
    for value in values:
        if not value:
            floats.append(math.nan)
            continue
        if len(value) > _MAX_FLOAT_CHARS:
            return None
        try:
            floats.append(float(value))
        except ValueError:  # "-", ".", "1-2", "1.2.3"
            return None
    return np.array(floats, dtype=np.float64)


def _whole(value: str) -> bool:
    digits = value[1:] if value.startswith("-") else value
    return 0 < len(digits) <= _MAX_INT_DIGITS and digits.isdigit()


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
