"""The new user's walk-through from the core-engine issue, value by value.

Expected values are independent of the code under test: closed forms evaluated with
Python's ``math`` module or mpmath, never numbers produced by mathforge itself.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from mathforge import MathForge, UnknownNameError


@pytest.fixture(scope="module")
def forge() -> MathForge:
    return MathForge()


def logistic(v: float) -> float:
    return 1 / (1 + math.exp(-v))


@pytest.mark.parametrize(("name", "x", "expected"), [
    ("relu", 5, 5.0), ("relu", -3, 0.0), ("relu", 0, 0.0),
    ("sigmoid", 0, 0.5), ("sigmoid", 10, logistic(10)), ("sigmoid", -10, logistic(-10)),
    ("tanh", 0, 0.0), ("tanh", 5, math.tanh(5)), ("tanh", -5, math.tanh(-5)),
    ("leaky_relu", 5, 5.0), ("leaky_relu", -5, -0.05),
    ("swish", 5, 5 * logistic(5)), ("swish", -5, -5 * logistic(-5)), ("swish", 0, 0.0),
    ("gelu", 1, 0.5 * (1 + math.erf(1 / math.sqrt(2)))),
    ("gelu", -1, -0.5 * math.erfc(1 / math.sqrt(2))), ("gelu", 0, 0.0),
    ("softplus", 5, math.log1p(math.exp(5))), ("softplus", -5, math.log1p(math.exp(-5))),
    ("softplus", 0, math.log(2)),
])
def test_walkthrough_values(forge, name, x, expected):
    result = forge.get(name).eval(x=x)
    assert type(result) is float
    assert result == pytest.approx(expected, rel=1e-15, abs=1e-300)


def test_walkthrough_rounded_values_as_the_issue_states_them(forge):
    assert round(forge.get("swish").eval(x=5), 2) == 4.97
    assert round(forge.get("swish").eval(x=-5), 2) == -0.03
    assert round(forge.get("gelu").eval(x=1), 3) == 0.841
    assert round(forge.get("gelu").eval(x=-1), 3) == -0.159
    assert round(forge.get("softplus").eval(x=5), 3) == 5.007
    assert round(forge.get("softplus").eval(x=-5), 3) == 0.007
    assert round(forge.get("softplus").eval(x=0), 3) == 0.693


def test_leaky_relu_with_params(forge):
    assert forge.get("leaky_relu", params={"alpha": 0.2}).eval(x=-5) == -1.0
    assert forge.get("leaky_relu").eval(x=-5, alpha=0.3) == pytest.approx(-1.5, rel=1e-15)
    # the registry is untouched by either
    assert forge.get("leaky_relu").params["alpha"] == 0.01


def test_swish_gradient_at_one(forge):
    s = logistic(1.0)
    exact = s + s * (1 - s)  # d/dx x*sigma(x) = sigma + x*sigma*(1-sigma)
    g = forge.get("swish").gradient("x")
    assert g.eval(x=1.0) == pytest.approx(exact, rel=1e-15)
    assert round(g.eval(x=1.0), 4) == 0.9277


def test_custom_composition_gradient_matches_central_differences(forge):
    x = forge.symbol("x")
    custom = x * forge.get("sigmoid")(2 * x)
    gradient = custom.gradient("x")
    f = lambda v: v / (1 + math.exp(-2 * v))  # noqa: E731 - the formula, written independently
    for point in (-2.3, -0.4, 0.0, 0.9, 3.1):
        h = 1e-5
        central = (f(point + h) - f(point - h)) / (2 * h)
        assert abs(gradient.eval(x=point) - central) < 1e-8
    assert custom.check_gradient() < 1e-8
    # and the composed formula is the one the user wrote
    assert custom.eval(x=1.3) == pytest.approx(f(1.3), rel=1e-15)


def test_missing_variable_is_a_type_error_naming_both(forge):
    with pytest.raises(TypeError) as info:
        forge.get("sigmoid").eval(y=3)
    assert "'x'" in str(info.value) and "'y'" in str(info.value)


def test_unknown_name_suggests_relu(forge):
    with pytest.raises(UnknownNameError) as info:
        forge.get("rleu")
    assert isinstance(info.value, KeyError)
    assert "relu" in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_misspelled_parameter_is_named(forge):
    with pytest.raises(TypeError, match="alpah"):
        forge.get("leaky_relu", params={"alpah": 0.2})


def test_no_overflow_at_large_inputs(forge):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert forge.get("softplus").eval(x=1000) == 1000.0
        assert forge.get("sigmoid").eval(x=-1000) == 0.0
        exact = float(mpmath.mpf(1) / (1 + mpmath.exp(740)))
        assert forge.get("sigmoid").eval(x=-740) == exact  # a subnormal, not 0
        assert forge.get("elu").eval(x=1e4) == 1e4
