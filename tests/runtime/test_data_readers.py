"""The file readers' pieces alone (runtime.datagen's csv_* and npz_* helpers). The readers as a
whole, their messages and their exported copies are tested in test_data.py and test_data_files.py."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from runtime import datagen


def reader(text: str):
    return csv.reader(io.StringIO(text, newline=""))


def test_csv_text_drops_a_byte_order_mark_and_refuses_blank_or_non_utf8_files():
    assert datagen.csv_text(b"\xef\xbb\xbfa,b\n1,2\n", "f.csv") == "a,b\n1,2\n"
    with pytest.raises(ValueError, match="f.csv is empty"):
        datagen.csv_text(b" \n\n", "f.csv")
    with pytest.raises(ValueError, match=r"f.csv row 2: not UTF-8 text \(byte 0xff at offset 4\)"):
        datagen.csv_text(b"a,b\n\xff", "f.csv")


def test_csv_header_finds_the_target_column():
    assert datagen.csv_header(reader(" a , b ,c\n"), "f.csv", "") == (["a", "b", "c"], 2)
    assert datagen.csv_header(reader("a,b,c\n"), "f.csv", "b") == (["a", "b", "c"], 1)
    with pytest.raises(ValueError, match=r"target column 'z' is not in the header; columns: 'a', 'b'"):
        datagen.csv_header(reader("a,b\n"), "f.csv", "z")
    with pytest.raises(ValueError, match=r"column name 'a' appears twice in the header \(columns 1 and 3\)"):
        datagen.csv_header(reader("a,b,a\n"), "f.csv", "")
    with pytest.raises(ValueError, match="has a single column"):
        datagen.csv_header(reader("a\n"), "f.csv", "")


def test_csv_rows_skip_blank_lines_and_name_the_line_a_record_starts_on():
    r = reader("a,b,t\n1,2,x\n\n3,4,y\n")
    header, t = datagen.csv_header(r, "f.csv", "")
    assert datagen.csv_rows(r, header, t, "f.csv") == ([[1.0, 2.0], [3.0, 4.0]], ["x", "y"], [2, 4])
    r = reader('a,b,t\n1,2,x\n3,"4\n5,y\n')
    header, t = datagen.csv_header(r, "f.csv", "")
    with pytest.raises(ValueError, match=r"f.csv row 3 has 2 fields; the header has 3 \(it runs to row 4"):
        datagen.csv_rows(r, header, t, "f.csv")


@pytest.mark.parametrize("cell, message", [("", "the cell is empty"), ("x", "'x' is not a number"),
                                           ("1e39", "'1e39' is not a finite float32 number"),
                                           ("nan", "'nan' is not a finite float32 number")])
def test_csv_features_name_the_cell(cell, message):
    with pytest.raises(ValueError, match=f"^f.csv row 7, column 'b': {message}$"):
        datagen.csv_features(["1", cell, "t"], [0, 1], ["a", "b", "t"], "f.csv row 7")
    assert datagen.csv_features([" 1 ", "-2.5"], [0, 1], ["a", "b"], "r") == [1.0, -2.5]


def test_csv_target_classes_or_numbers():
    y, names = datagen.csv_target(["b", "a", "b"], [2, 3, 4], "f.csv", "t", "auto")
    assert y.tolist() == [1, 0, 1] and names == ["a", "b"]
    y, names = datagen.csv_target(["0.5", "1.5"], [2, 3], "f.csv", "t", "auto")
    assert y.dtype == np.float32 and y.shape == (2, 1) and names is None
    with pytest.raises(ValueError, match=r"^f.csv row 3, column 't': 'x' is not a number \(a regression"):
        datagen.csv_target(["1", "x"], [2, 3], "f.csv", "t", "regression")
    with pytest.raises(ValueError, match=r"^f.csv row 9, column 't': 'inf' is not a finite number$"):
        datagen.csv_target(["1", "inf"], [2, 9], "f.csv", "t", "auto")
    y, names = datagen.csv_target(["1", "inf"], [2, 9], "f.csv", "t", "classification")
    assert names == ["1", "inf"]  # non-finite labels are text labels, as classes


def test_npz_checks_and_conversions():
    with pytest.raises(ValueError, match="array 'x' holds NaN or infinite values \\(first at sample 1\\)"):
        datagen.npz_check_numbers(np.array([0.0, np.inf]), "x", "d.npz")
    with pytest.raises(ValueError, match="has dtype <U1; expected numbers"):
        datagen.npz_check_numbers(np.array(["a"]), "x", "d.npz")
    with pytest.raises(ValueError, match="target 'y' has shape \\(2,\\) but features 'x' have 3 samples"):
        datagen.npz_check_shapes(np.zeros((3, 2)), "x", np.zeros(2), "y", "d.npz")
    assert datagen.npz_features(np.arange(4, dtype=np.uint8).reshape(2, 2), "x", "d.npz").dtype == np.int64
    with pytest.raises(ValueError, match="too large for int64"):
        datagen.npz_features(np.array([[2**63]], dtype=np.uint64), "x", "d.npz")
    with pytest.raises(ValueError, match="beyond the float32 range"):
        datagen.npz_features(np.array([[1e300]]), "x", "d.npz")
    y, names = datagen.npz_classes(np.array([7, 3, 7]), "y", "d.npz")
    assert y.tolist() == [1, 0, 1] and names == ["3", "7"]
    with pytest.raises(ValueError, match="must hold integers"):
        datagen.npz_classes(np.array([0.5]), "y", "d.npz")
    assert datagen.npz_regression_target(np.zeros((4, 2, 3)), "y", "d.npz").shape == (4, 6)
    with pytest.raises(ValueError, match="no values per sample; shape \\(4, 0\\)"):
        datagen.npz_regression_target(np.zeros((4, 0)), "y", "d.npz")
