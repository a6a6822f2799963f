"""Parameter semantics over the whole catalog: constraints, trainable flags, parameter gradients."""

from __future__ import annotations

import numpy as np
import pytest

from mathforge import MathForge, ParameterError
from mathforge.constraints import Constraint

FORGE = MathForge()
WITH_PARAMS = [(n, p) for n in FORGE.list_all() for p in FORGE.get(n).params]


def violating_value(constraint: Constraint, params: dict) -> float:
    bound = params[constraint.bound] if isinstance(constraint.bound, str) else constraint.bound
    return {">": bound, ">=": bound - 1.0, "<": bound, "<=": bound + 1.0}[constraint.op]


@pytest.mark.parametrize(("name", "param"), WITH_PARAMS, ids=[f"{n}-{p}" for n, p in WITH_PARAMS])
def test_constraints_are_enforced_on_get_with_params_and_eval(name, param):
    entry = FORGE.get(name)
    constraint = entry.constraints.get(param)
    if constraint is None:
        pytest.skip(f"{name}.{param} has no constraint")
    bad = violating_value(constraint, dict(entry.params))
    with pytest.raises(ParameterError, match=param):
        FORGE.get(name, params={param: bad})
    with pytest.raises(ParameterError, match=param):
        entry.with_params(**{param: bad})
    point = {v: 0.5 for v in entry.variables}
    with pytest.raises(ParameterError, match=param):
        entry.eval(**point, **{param: bad})
    with pytest.raises(ParameterError, match=param):
        entry.eval(**point, **{param: float("nan")})


ACTIVATION_PARAMS = [(n, p) for n, p in WITH_PARAMS if FORGE.get(n).category == "activation"]


# losses: test_losses.test_parameter_derivatives (against mpmath, at points away from their kinks)
@pytest.mark.parametrize(("name", "param"), ACTIVATION_PARAMS, ids=[f"{n}-{p}" for n, p in ACTIVATION_PARAMS])
def test_gradient_with_respect_to_each_parameter_matches_finite_differences(name, param):
    entry = FORGE.get(name)
    # points away from every kink of the catalog at default parameters
    points = [-2.7, -1.3, -0.7, 0.3, 0.8, 1.6, 2.9]
    assert entry.check_gradient(param, points=points) < 1e-7


def test_prelu_alpha_is_trainable_and_others_are_not():
    assert FORGE.get("prelu").trainable == ("alpha",)
    assert FORGE.get("leaky_relu").trainable == ()
    assert FORGE.get("softmax").trainable == ()


@pytest.mark.parametrize("name", [n for n in FORGE.list_all(category="activation") if FORGE.get(n).kind == "elementwise"])
def test_gradient_by_x_matches_finite_differences(name):
    assert FORGE.get(name).check_gradient(points=[-2.7, -1.3, -0.7, 0.3, 0.8, 1.6, 2.9]) < 1e-7


def test_hard_tanh_bounds_are_checked_against_each_other():
    with pytest.raises(ParameterError, match="min_val"):
        FORGE.get("hard_tanh", params={"min_val": 2.0})
    shifted = FORGE.get("hard_tanh", params={"min_val": -2.0, "max_val": 0.5})
    np.testing.assert_array_equal(shifted.eval(x=np.array([-3.0, 0.0, 3.0])), [-2.0, 0.0, 0.5])
