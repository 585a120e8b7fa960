"""The quick CSV reader makes exactly the frame pandas.read_csv makes, or declines.

Generated bodies, mostly small CSVs of plain numbers (the reader's case) with
the edges that pandas reads its own way: blank lines, CRLF, missing values,
``-0``, leading zeros, long digits, wide integers, odd headers, rows of the wrong
width, stray characters.  Whenever the quick reader answers, its frame must be
the pandas frame: dtypes, values bit for bit (NaN and -0.0 included), column
names and their Index type, the index, the memory layout of ``to_numpy()``, and
a linear model's predictions on it bit for bit.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

from drum_bridge.model.payload import (
    QUICK_CSV_MAX_BYTES,
    read_csv,
    read_csv_with_pandas,
    read_plain_numbers,
)

digits = st.text("0123456789", min_size=1, max_size=20)
numbers = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(-1e9, 1e9, allow_nan=False).map(lambda x: f"{x:.{abs(hash(x)) % 12}f}"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # exponents: pandas reads them
    st.tuples(st.sampled_from(["", "-"]), digits, st.sampled_from(["", "."]), st.text("0123456789", max_size=8))
    .map("".join),
    st.sampled_from(["", "-0", "0", "-0.0", "007", "-.5", "5.", ".", "-", "1-2", "1.2.3", "--1", "nan",
                     "NA", "1e5", "True", " 1", "1_0", "+3"]),
)
plain_names = st.text("abcxyz_0123456789", min_size=1, max_size=6)
odd_names = st.sampled_from(["a", "Unnamed: 0", "1", " a", "a ", "", '"q"', "a.1", "é", "a;b"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    width = draw(st.integers(1, 4))
    header = draw(st.lists(plain_names, min_size=width, max_size=width, unique=True))
    if draw(st.integers(0, 5)) == 0:
        header[draw(st.integers(0, width - 1))] = draw(odd_names)
    kinds = [draw(st.sampled_from(["int", "float", "float", "int", "any"])) for _ in range(width)]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 8))):
        cells = []
        for kind in kinds:
            if kind == "int":
                cells.append(str(draw(st.integers(-999, 999))))
            elif kind == "float":
                cells.append(draw(st.floats(-1e4, 1e4, allow_nan=False)).__format__(".4f"))
            else:
                cells.append(draw(numbers))
        if draw(st.integers(0, 30)) == 0:
            cells = cells[:-1] or ["1", "2"]  # a row of the wrong width
        lines.append(",".join(cells))
        if draw(st.integers(0, 40)) == 0:
            lines.append("")  # a blank line
    end = draw(st.sampled_from(["\n", "\n", "", "\n\n", "\n\n\n"]))
    text = "\n".join(lines) + end
    if draw(st.integers(0, 5)) == 0:
        text = text.replace("\n", "\r\n")
    return text.encode()


def _same_frame(quick: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert list(quick.dtypes) == list(slow.dtypes)
    pd.testing.assert_index_equal(quick.columns, slow.columns, exact=True)
    pd.testing.assert_index_equal(quick.index, slow.index, exact=True)
    for name in slow.columns:
        a, b = quick[name].to_numpy(), slow[name].to_numpy()
        assert a.tobytes() == b.tobytes(), name  # bit for bit: NaN and -0.0 too
    qa, sa = quick.to_numpy(), slow.to_numpy()
    assert (qa.flags.c_contiguous, qa.flags.f_contiguous) == (sa.flags.c_contiguous, sa.flags.f_contiguous)


def _pandas_frame(body: bytes) -> pd.DataFrame | None:
    try:
        return read_csv_with_pandas(body)
    except Exception:  # noqa: BLE001 - an unreadable body: the quick reader must decline it
        return None


hits = {"quick": 0, "declined": 0}


@settings(max_examples=int(os.environ.get("QUICK_CSV_EXAMPLES", "600")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_the_quick_reader_makes_the_frame_pandas_makes_or_declines(body: bytes) -> None:
    quick = read_plain_numbers(body)
    hits["quick" if quick is not None else "declined"] += 1
    if quick is None:
        return
    slow = _pandas_frame(body)
    assert slow is not None, body
    _same_frame(quick, slow)
    numeric = slow.select_dtypes("number")
    if numeric.shape[1] and not numeric.isna().any().any():
        target = np.arange(len(numeric), dtype=float)
        model = LinearRegression().fit(numeric, target)
        assert model.predict(quick[numeric.columns]).tobytes() == model.predict(numeric).tobytes()


def test_the_generated_bodies_took_both_ways() -> None:
    # Not vacuous: runs after the property test in this module (pytest keeps file order).
    assert hits["quick"] > 100
    assert hits["declined"] > 60


def test_plain_bodies_are_read_quickly_and_others_by_pandas() -> None:
    assert read_plain_numbers(b"a,b\n1,2\n3.5,\n") is not None
    assert read_plain_numbers(b"a,b\r\n1,2\r\n") is not None
    assert read_plain_numbers(b"a\n1\n\n3\n") is not None  # one column: a blank line is missing
    declined = [
        b"a,b\n1,2\n\n3,4\n",             # pandas skips the blank line
        b'"a",b\n1,2\n',                  # quoted header
        b"a,a\n1,2\n",                    # pandas renames the second a
        b"a,\n1,2\n",                     # an unnamed column
        b"a,b\n1,x\n",                    # a string
        b"a,b\n1,2,3\n",                  # a wider row: pandas makes an index of it
        b"a\n1e5\n",                      # an exponent
        b"a\n0.12345678901234567\n",      # more digits than the quick reader takes
        b"a\n1234567890123456789\n",      # a 19-digit integer
        b"a\n",                           # no rows
        "é\n1\n".encode(),                # not ASCII
        b"a\n1\r2\n",                     # a lone carriage return
        b"a\n" + b"1\n" * (QUICK_CSV_MAX_BYTES // 2),  # large: pandas is quick enough
    ]
    for body in declined:
        assert read_plain_numbers(body) is None, body
    assert read_plain_numbers(b"a\n1\n", "latin-1") is None
    assert read_plain_numbers(b"a\n1\n", "UTF-8") is not None


def test_read_csv_answers_the_same_either_way() -> None:
    body = b"a,b\n1,2.5\n-0,\n"
    _same_frame(read_csv(body), read_csv_with_pandas(body))
