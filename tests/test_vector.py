"""Vector-valued entries: values, limits, dtype, axis, Jacobians and vector-Jacobian products.

References are written here independently: mpmath at 50 digits for values, central
differences of those references for Jacobians, and the explicit SymPy Jacobian matrix
evaluated with mpmath.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

from mathforge import MathForge

mpmath.mp.dps = 50
FORGE = MathForge()
VECTORS = [n for n in FORGE.list_all(category="activation") if FORGE.get(n).kind == "vector"]


def ref_softmax(row):
    e = [mpmath.exp(mpmath.mpf(v)) for v in row]
    total = sum(e)
    return [v / total for v in e]


def ref_log_softmax(row):
    with mpmath.workdps(800):  # log(1 + 1e-299) must not round to 0
        total = mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row))
        return [+(mpmath.mpf(v) - total) for v in row]


def ref_softmin(row):
    return ref_softmax([-v for v in row])


def ref_glu(row):
    half = len(row) // 2
    return [mpmath.mpf(a) / (1 + mpmath.exp(-mpmath.mpf(b))) for a, b in zip(row[:half], row[half:])]


REFERENCES = {"softmax": ref_softmax, "log_softmax": ref_log_softmax, "softmin": ref_softmin, "glu": ref_glu}
ROWS = [[1.0, 2.0, 3.0, 4.0], [1000.0, 0.0, -1000.0, 2.0], [-30.5, 12.25, 0.0, 700.0], [1e-300, -1e-300, 5.0, -5.0]]


def test_every_vector_entry_has_a_reference():
    assert set(VECTORS) == set(REFERENCES), "add an mpmath reference for each vector entry"
    assert {"softmax", "log_softmax", "softmin", "glu"} <= set(VECTORS)


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("row", ROWS, ids=["small", "pm1000", "mixed", "tiny"])
def test_values_match_mpmath(name, row):
    got = FORGE.get(name).eval(np.array(row))
    exact = [float(v) for v in REFERENCES[name](row)]
    for g, e in zip(got, exact):
        assert abs(g - e) <= 4 * np.spacing(abs(e)) + 5e-324, (name, row, got, exact)


@pytest.mark.parametrize("name", VECTORS)
def test_float32_stays_float32_and_axis_is_respected(name):
    entry = FORGE.get(name)
    data = np.array(ROWS[:2], dtype=np.float32)
    assert entry.eval(data).dtype == np.float32
    by_rows = entry.eval(data, axis=-1)
    by_columns = entry.eval(data.T.copy(), axis=0)
    np.testing.assert_array_equal(by_rows, by_columns.T)


@pytest.mark.parametrize(("row", "expected"), [
    ([np.inf, 0.0, 1.0], [1.0, 0.0, 0.0]),          # one +inf: the one-hot limit
    ([-np.inf, 0.0], [0.0, 1.0]),
    ([np.inf, np.inf, 0.0], [np.nan] * 3),          # no limit
    ([-np.inf, -np.inf], [np.nan] * 2),
    ([np.nan, 0.0], [np.nan] * 2),
    ([1e308, -1e308], [1.0, 0.0]),
])
def test_softmax_limits_and_no_floating_point_errors(row, expected):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = FORGE.get("softmax").eval(np.array(row))
        FORGE.get("log_softmax").eval(np.array(row))
        FORGE.get("softmin").eval(np.array(row))
    np.testing.assert_array_equal(got, expected)


def test_log_softmax_extremes():
    got = FORGE.get("log_softmax").eval(np.array([1000.0, 0.0, -1000.0]))
    np.testing.assert_array_equal(got, [0.0, -1000.0, -2000.0])
    got = FORGE.get("log_softmax").eval(np.array([1e308, -1e308]))
    np.testing.assert_array_equal(got, [0.0, -np.inf])


def test_glu_needs_an_even_axis_and_handles_infinities():
    with pytest.raises(ValueError, match="even"):
        FORGE.get("glu").eval(np.ones(3))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = FORGE.get("glu").eval(np.array([2.0, np.inf, -1.0, np.inf, np.inf, np.inf, -np.inf, -np.inf]))
    np.testing.assert_array_equal(got[:3], [2.0, np.inf, -0.0])
    assert np.isnan(got[3])  # inf * sigmoid(-inf) has no limit


def _numeric_jacobian(name, row, h=1e-6):
    """Central differences of the mpmath reference."""
    row = [mpmath.mpf(v) for v in row]
    columns = []
    for k in range(len(row)):
        up, down = list(row), list(row)
        up[k] += h
        down[k] -= h
        columns.append([(a - b) / (2 * h) for a, b in zip(REFERENCES[name](up), REFERENCES[name](down))])
    return np.array([[float(columns[k][j]) for k in range(len(row))] for j in range(len(columns[0]))])


@pytest.mark.parametrize("name", VECTORS)
def test_vjp_matches_the_jacobian(name):
    row = [0.3, -1.2, 2.5, 0.7]
    v = np.array([0.5, -2.0, 1.0, 3.0][: len(REFERENCES[name](row))])
    jacobian = _numeric_jacobian(name, row)
    got = FORGE.get(name).vjp(np.array(row), v)
    np.testing.assert_allclose(got, v @ jacobian, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", VECTORS)
def test_explicit_symbolic_jacobian_matches_finite_differences(name):
    row = [0.3, -1.2, 2.5, 0.7]
    matrix = FORGE.get(name).jacobian(4)
    symbols = sympy.symbols("x1:5", real=True)
    values = {s: sympy.Float(v, 30) for s, v in zip(symbols, row)}
    evaluated = np.array(matrix.subs(values).evalf(30).tolist(), dtype=float)
    np.testing.assert_allclose(evaluated, _numeric_jacobian(name, row), rtol=1e-9, atol=1e-12)


def test_symbolic_forms_are_the_textbook_ones():
    softmax = FORGE.get("softmax")
    assert str(softmax.symbolic_expr) == "exp(x[j])/Sum(exp(x[k]), (k, 1, n))"
    assert "KroneckerDelta(j, k)" in str(softmax.jacobian())
    assert str(FORGE.get("log_softmax").symbolic_expr) == "-log(Sum(exp(x[k]), (k, 1, n))) + x[j]"
    assert "sigmoid" in str(FORGE.get("glu").symbolic_expr)


def test_vector_entries_refuse_what_they_cannot_do():
    softmax = FORGE.get("softmax")
    with pytest.raises(TypeError, match="jacobian"):
        softmax.gradient()
    with pytest.raises(TypeError, match="missing"):
        softmax.eval()
    with pytest.raises(TypeError, match="axis"):
        softmax.eval(np.ones(3), dim=0)
    with pytest.raises(TypeError):
        softmax.eval(np.array(["a"]))
    with pytest.raises(TypeError, match="vector-valued"):
        FORGE.compare(["relu", "softmax"])
    with pytest.raises(AttributeError):
        softmax.name = "x"
