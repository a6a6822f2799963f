"""The loss catalog (``registry/losses/*.yaml``) against independent mpmath references.

Every entry of ``forge.list_all(category="loss")`` is tested automatically, together with the
losses this file expects the catalog to hold (EXPECTED_LOSSES: a missing one fails). A new
elementwise loss needs, in this file, or its tests fail with a clear message:

* ``REFERENCES[name]``: the textbook definition in mpmath (reference/losses.md §6),
  ``f(y_pred, y_true[, var], **params) -> mpf``; the positional arguments are the variables,
  in the catalog's order, the keyword defaults are the textbook parameter defaults;
* ``DERIVATIVES[name]``: closed-form partial derivatives of that definition, one per variable
  (``mpmath.diff`` is not used for reference values; it checks the closed forms at moderate
  points in ``test_reference_derivatives``);
* ``FAMILY[name]``: the grid of inputs suitable for the loss (probabilities in [0, 1] for the
  cross-entropies, labels +-1 for the hinge losses, ...);
* ``KINKS[name]``: quantities that vanish where the y_pred-derivative jumps (or is only a
  convention, e.g. the edges p = 0 and p = 1 of the clamped cross-entropy); the gradient
  accuracy check skips points where one is zero or where rounding y_pred - y_true (and the
  parameters) to the dtype moves it to the other side; ``KINK_CASES`` pins the conventions;
* ``PARAM_OVERRIDES[name]`` (losses with parameters): non-default values.

A ``kind: classes`` loss (cross_entropy) needs ``CLASS_REFERENCES[name]``.

Reference values never come from the code under test (no kernel, no ``symbolic_expr``);
the catalog's parameter values (exact doubles) are passed to the references.

Accuracy criterion (DESIGN.md §5 extended to several inputs v = y_pred, y_true[, var]), with
exact values f and partials df/dv at the dtype's input values:

    value:     |computed - f| <= 4*eps*(|f| + sum_v |v*df/dv|) + TINY
    gradient:  |computed - g| <= 4*eps*(|g| + sum_v |v*dg/dv|) + TINY,   g = df/dy_pred

TINY is the dtype's smallest subnormal. The second-order terms ``dg/dv`` of the gradient
tolerance only size the allowance; they are taken by ``mpmath.diff`` of the closed form g
with a step 1e-30*|v| at 90 digits. An exact value at or beyond the overflow threshold must
come out as the infinity of its sign (and a computed infinity is accepted only then).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import re
import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from mathforge import MathForge
from mathforge.cli import main

DPS = 50
FORGE = MathForge()

#: The losses the catalog is expected to hold (DESIGN.md §3: category "loss").
EXPECTED_LOSSES = (
    "mse", "mae", "huber", "smooth_l1", "log_cosh", "binary_crossentropy", "bce_with_logits", "hinge",
    "squared_hinge", "soft_margin", "poisson_nll", "gaussian_nll", "kl_div", "quantile", "binary_focal",
    "cross_entropy",
)


def _catalog_losses() -> tuple[tuple[str, ...], BaseException | None]:
    try:
        return tuple(FORGE.list_all(category="loss")), None
    except Exception as exc:  # noqa: BLE001 - reported by test_loss_catalog_exists
        return (), exc


CATALOG_LOSSES, CATALOG_ERROR = _catalog_losses()
ALL_LOSSES: tuple[str, ...] = tuple(sorted(set(CATALOG_LOSSES) | set(EXPECTED_LOSSES)))

DTYPES = (np.float64, np.float32)
DTYPE_IDS = ("float64", "float32")


def _entry(name: str):
    """The catalog entry, or a clear failure if the loss catalog lacks it."""
    if name not in CATALOG_LOSSES:
        why = f"forge.list_all(category='loss') raised {CATALOG_ERROR!r}" if CATALOG_ERROR else (
            f"the loss catalog holds {list(CATALOG_LOSSES)}")
        pytest.fail(f"{name} is not in the loss catalog ({why})", pytrace=False)
    return FORGE.get(name)


# --------------------------------------------------------------------------------------
# Elementwise references (mpmath, textbook definitions; reference/losses.md §6)
# --------------------------------------------------------------------------------------

def _sig(t):
    return 1 / (1 + mp.exp(-t))


def _softplus(t):
    return mpmath.log1p(mp.exp(t))  # exact for any t: mpmath exponents are unbounded


def _sign(t):
    return mpf(mpmath.sign(t))


def _digits_for(ratio_mag: int) -> int:
    """Extra decimal digits resolving a result 2^-ratio_mag times smaller than its terms."""
    return 10 + max(0, int(0.302 * ratio_mag) + 1)


def _log_clamped(p, floor):
    """max(log p, floor), with log 0 = -inf."""
    return max(mp.log(p), floor) if p > 0 else floor


def _log1m_clamped(p, floor):
    """max(log(1 - p), floor), accurate for tiny p."""
    return max(mpmath.log1p(-p), floor) if p < 1 else floor


def ref_mse(y_pred, y_true):
    return (y_pred - y_true) ** 2


def ref_mae(y_pred, y_true):
    return abs(y_pred - y_true)


def ref_huber(y_pred, y_true, delta="1.0"):
    dl, a = mpf(delta), abs(y_pred - y_true)
    return a * a / 2 if a < dl else dl * (a - dl / 2)


def ref_smooth_l1(y_pred, y_true, beta="1.0"):
    b, a = mpf(beta), abs(y_pred - y_true)
    return a * a / (2 * b) if a < b else a - b / 2


def ref_log_cosh(y_pred, y_true):
    d = y_pred - y_true
    if d == 0:
        return mpf(0)
    extra = _digits_for(-2 * mpmath.mag(d)) if abs(d) < 1 else 0  # log(1 + d^2/2 ...) for tiny d
    with mp.workdps(mp.dps + extra):
        r = mp.log(mp.cosh(d))
    return +r


def ref_binary_crossentropy(y_pred, y_true):
    p, y = y_pred, y_true
    return -(y * _log_clamped(p, mpf(-100)) + (1 - y) * _log1m_clamped(p, mpf(-100)))


def ref_bce_with_logits(y_pred, y_true):
    x, y = y_pred, y_true
    return y * _softplus(-x) + (1 - y) * _softplus(x)


def ref_hinge(y_pred, y_true):
    return max(mpf(0), 1 - y_true * y_pred)


def ref_squared_hinge(y_pred, y_true):
    return max(mpf(0), 1 - y_true * y_pred) ** 2


def ref_soft_margin(y_pred, y_true):
    return _softplus(-y_true * y_pred)


def ref_poisson_nll(y_pred, y_true, log_input="1.0", eps="1e-8"):
    x, y = y_pred, y_true
    if mpf(log_input) != 0:
        return mp.exp(x) - y * x
    return x - y * mp.log(x + mpf(eps))


def ref_gaussian_nll(y_pred, y_true, var, eps="1e-6"):
    v = max(var, mpf(eps))
    return (mp.log(v) + (y_pred - y_true) ** 2 / v) / 2


def ref_kl_div(y_pred, y_true):
    y = y_true
    return mpf(0) if y == 0 else y * (mp.log(y) - y_pred)


def ref_quantile(y_pred, y_true, tau="0.5"):
    t, u = mpf(tau), y_true - y_pred
    return t * u if u >= 0 else (t - 1) * u


def ref_binary_focal(y_pred, y_true, gamma="2.0", alpha="0.25", eps="1e-7"):
    p, y = y_pred, y_true
    g, a, e = mpf(gamma), mpf(alpha), mpf(eps)
    l1, l2 = _log_clamped(p, mp.log(e)), _log1m_clamped(p, mp.log(e))
    return -(a * y * (1 - p) ** g * l1 + (1 - a) * (1 - y) * p ** g * l2)


REFERENCES: dict[str, Callable[..., mpf]] = {
    "mse": ref_mse,
    "mae": ref_mae,
    "huber": ref_huber,
    "smooth_l1": ref_smooth_l1,
    "log_cosh": ref_log_cosh,
    "binary_crossentropy": ref_binary_crossentropy,
    "bce_with_logits": ref_bce_with_logits,
    "hinge": ref_hinge,
    "squared_hinge": ref_squared_hinge,
    "soft_margin": ref_soft_margin,
    "poisson_nll": ref_poisson_nll,
    "gaussian_nll": ref_gaussian_nll,
    "kl_div": ref_kl_div,
    "quantile": ref_quantile,
    "binary_focal": ref_binary_focal,
}


# Closed-form partial derivatives. At a kink the value is PyTorch autograd's convention
# (reference/losses.md §6a); the accuracy checks skip kinks, KINK_CASES pins them.

def _bce_dp(p, y):
    up = 1 / p if p > 0 and mp.log(p) > -100 else mpf(0)
    down = 1 / (1 - p) if p < 1 and mpmath.log1p(-p) > -100 else mpf(0)
    return -(y * up - (1 - y) * down)


def _bce_dy(p, y):
    return -(_log_clamped(p, mpf(-100)) - _log1m_clamped(p, mpf(-100)))


def _poisson_dx(x, y, log_input="1.0", eps="1e-8"):
    if mpf(log_input) != 0:
        if abs(x) < 1:
            return mpmath.expm1(x) + (1 - y)  # exp(x) - y, no cancellation near x = 0 for y = 1
        return mp.exp(x) - y
    return 1 - y / (x + mpf(eps))


def _poisson_dy(x, y, log_input="1.0", eps="1e-8"):
    return -x if mpf(log_input) != 0 else -mp.log(x + mpf(eps))


def _gauss_dvar(y_pred, y_true, var, eps="1e-6"):
    if var < mpf(eps):
        return mpf(0)
    d2 = (y_pred - y_true) ** 2
    return (1 / var - d2 / var**2) / 2


def _focal_parts(p, gamma, alpha, eps):
    g, a, e = mpf(gamma), mpf(alpha), mpf(eps)
    l1, l2 = _log_clamped(p, mp.log(e)), _log1m_clamped(p, mp.log(e))
    dl1 = 1 / p if p >= e else mpf(0)              # clamp(min=eps) passes the gradient at the bound
    dl2 = -1 / (1 - p) if 1 - p >= e else mpf(0)
    q = 1 - p
    pow_q = q**g
    pow_p = p**g
    dpow_q = mpf(0) if g == 0 else -g * q ** (g - 1)
    dpow_p = mpf(0) if g == 0 else g * p ** (g - 1)
    return a, l1, l2, dl1, dl2, pow_q, pow_p, dpow_q, dpow_p


def _focal_dp(y_pred, y_true, gamma="2.0", alpha="0.25", eps="1e-7"):
    a, l1, l2, dl1, dl2, pq, pp, dpq, dpp = _focal_parts(y_pred, gamma, alpha, eps)
    y = y_true
    return -(a * y * (dpq * l1 + pq * dl1) + (1 - a) * (1 - y) * (dpp * l2 + pp * dl2))


def _focal_dy(y_pred, y_true, gamma="2.0", alpha="0.25", eps="1e-7"):
    a, l1, l2, _, _, pq, pp, _, _ = _focal_parts(y_pred, gamma, alpha, eps)
    return -(a * pq * l1 - (1 - a) * pp * l2)


def _hinge_active(x, y):
    return 1 - y * x >= 0  # at the hinge the gradient passes (clamp convention): -y


DERIVATIVES: dict[str, dict[str, Callable[..., mpf]]] = {
    "mse": {"y_pred": lambda yp, yt: 2 * (yp - yt), "y_true": lambda yp, yt: -2 * (yp - yt)},
    "mae": {"y_pred": lambda yp, yt: _sign(yp - yt), "y_true": lambda yp, yt: -_sign(yp - yt)},
    "huber": {
        "y_pred": lambda yp, yt, delta="1.0": (yp - yt) if abs(yp - yt) < mpf(delta)
        else mpf(delta) * _sign(yp - yt),
        "y_true": lambda yp, yt, delta="1.0": -((yp - yt) if abs(yp - yt) < mpf(delta)
                                                 else mpf(delta) * _sign(yp - yt)),
    },
    "smooth_l1": {
        "y_pred": lambda yp, yt, beta="1.0": (yp - yt) / mpf(beta) if abs(yp - yt) < mpf(beta)
        else _sign(yp - yt),
        "y_true": lambda yp, yt, beta="1.0": -((yp - yt) / mpf(beta) if abs(yp - yt) < mpf(beta)
                                                else _sign(yp - yt)),
    },
    "log_cosh": {"y_pred": lambda yp, yt: mp.tanh(yp - yt), "y_true": lambda yp, yt: -mp.tanh(yp - yt)},
    "binary_crossentropy": {"y_pred": _bce_dp, "y_true": _bce_dy},
    "bce_with_logits": {
        "y_pred": lambda x, y: (1 - y) * _sig(x) - y * _sig(-x),  # sigma(x) - y without cancellation
        "y_true": lambda x, y: -x,
    },
    "hinge": {
        "y_pred": lambda x, y: -y if _hinge_active(x, y) else mpf(0),
        "y_true": lambda x, y: -x if _hinge_active(x, y) else mpf(0),
    },
    "squared_hinge": {
        "y_pred": lambda x, y: -2 * y * max(mpf(0), 1 - y * x),
        "y_true": lambda x, y: -2 * x * max(mpf(0), 1 - y * x),
    },
    "soft_margin": {
        "y_pred": lambda x, y: -y * _sig(-y * x),
        "y_true": lambda x, y: -x * _sig(-y * x),
    },
    "poisson_nll": {"y_pred": _poisson_dx, "y_true": _poisson_dy},
    "gaussian_nll": {
        "y_pred": lambda yp, yt, var, eps="1e-6": (yp - yt) / max(var, mpf(eps)),
        "y_true": lambda yp, yt, var, eps="1e-6": -(yp - yt) / max(var, mpf(eps)),
        "var": _gauss_dvar,
    },
    "kl_div": {
        "y_pred": lambda yp, yt: -yt,
        "y_true": lambda yp, yt: mp.log(yt) + 1 - yp if yt > 0 else mpf("-inf"),
    },
    "quantile": {
        "y_pred": lambda yp, yt, tau="0.5": -mpf(tau) if yt - yp >= 0 else 1 - mpf(tau),
        "y_true": lambda yp, yt, tau="0.5": mpf(tau) if yt - yp >= 0 else mpf(tau) - 1,
    },
    "binary_focal": {"y_pred": _focal_dp, "y_true": _focal_dy},
}

# Quantities that vanish where the y_pred-derivative jumps or is only a convention:
# fn(values, d, **params), d = y_pred - y_true (passed exactly and as rounded in the dtype).
KINKS: dict[str, Callable[..., tuple]] = {
    "mse": lambda v, d, **p: (),
    "mae": lambda v, d, **p: (d,),
    "huber": lambda v, d, **p: (),        # C1 at |d| = delta
    "smooth_l1": lambda v, d, **p: (),    # C1 at |d| = beta
    "log_cosh": lambda v, d, **p: (),
    "binary_crossentropy": lambda v, d, **p: (v[0], 1 - v[0]),  # the clamped edges p = 0, 1
    "bce_with_logits": lambda v, d, **p: (),
    "hinge": lambda v, d, **p: (1 - v[1] * v[0],),
    "squared_hinge": lambda v, d, **p: (),  # C1
    "soft_margin": lambda v, d, **p: (),
    "poisson_nll": lambda v, d, **p: (),
    "gaussian_nll": lambda v, d, **p: (),
    "kl_div": lambda v, d, **p: (),
    "quantile": lambda v, d, **p: (d,),
    "binary_focal": lambda v, d, **p: (v[0] - p["eps"], 1 - v[0] - p["eps"]),
}


# --------------------------------------------------------------------------------------
# Grids (products of the listed values, per variable in order)
# --------------------------------------------------------------------------------------

def _pm(values) -> list[float]:
    return sorted({0.0, *map(float, values), *(-float(v) for v in values)})


def _nb(v: float) -> list[float]:
    return [v, float(np.nextafter(v, -np.inf)), float(np.nextafter(v, np.inf))]


_D = [1e-300, 1e-100, 1e-20, 1e-8, 1e-3, 0.1, *_nb(0.5), *_nb(1.0), *_nb(2.0), 2.5, 3.0, 10.0, 100.0, 1e3, 1e4]
_P = [0.0, 5e-324, 1e-300, 1e-50, 1e-45, 1e-43, 1e-20, 1e-8, 1e-7, 1e-3, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999,
      1 - 1e-8, 1 - 2.0**-24, float(np.nextafter(1.0, 0.0)), 1.0]
_X = _pm([1e-300, 1e-8, 0.5, *_nb(1.0), 2.0, 10.0, 30.0, 100.0, 700.0, 1e4])

FAMILIES: dict[str, tuple[list[float], ...]] = {
    # d = y_pred - y_true up to about +-1e4, with the neighbours of the joins at 0.5, 1, 2
    "regression": (_pm(_D) + [1.5, -0.9], [0.0, 1.0, -2.5, 0.1, 1000.0]),
    "gaussian": (_pm([1e-300, 1e-8, 0.5, 1.0, 3.0, 100.0, 1e4]), [0.0, 1.5],
                 [1e-300, 1e-8, 1e-6, 1e-3, 0.5, 1.0, 2.5, 1e4]),
    # probabilities including the edges 0 and 1, soft labels
    "probability": (_P, [0.0, 0.25, 1.0]),
    "probability_hard": (_P, [0.0, 1.0]),
    "logits01": (_X, [0.0, 0.25, 1.0]),
    "logits_pm1": (_X, [-1.0, 1.0]),
    "log_rate": (_pm([1e-300, 1e-8, 0.5, 1.0, 2.0, 10.0, 100.0, 700.0, 1e4]), [0.0, 1.0, 2.5, 10.0]),
    "rate": ([0.0, 1e-300, 1e-10, 1e-8, 1e-3, 0.5, 1.0, 2.0, 10.0, 1e4], [0.0, 1.0, 2.5]),
    "log_probability": ([0.0, -1e-300, -1e-8, -0.1, -0.5, -1.0, -5.0, -100.0, -1e4, 0.5, 2.0],
                        [0.0, 1e-300, 1e-20, 0.1, 0.5, 0.9, 1.0]),
}

# Moderate points away from every kink, for test_reference_derivatives.
CHECK_POINTS: dict[str, list[tuple[float, ...]]] = {
    "regression": [(0.3, 1.7), (2.9, -0.4), (-1.3, 0.2), (5.0, 1.0), (0.1, -0.2)],
    "gaussian": [(0.3, 1.7, 0.5), (2.9, -0.4, 2.0), (-1.3, 0.2, 3e-3)],
    "probability": [(0.3, 0.0), (0.7, 1.0), (0.2, 0.25), (0.9, 0.25)],
    "probability_hard": [(0.3, 0.0), (0.7, 1.0), (0.2, 1.0), (0.9, 0.0)],
    "logits01": [(0.7, 0.0), (-1.3, 1.0), (2.1, 0.25)],
    "logits_pm1": [(0.7, 1.0), (-1.3, 1.0), (0.4, -1.0), (2.1, -1.0), (2.1, 1.0)],
    "log_rate": [(0.7, 1.0), (-1.3, 2.5), (3.0, 0.0)],
    "rate": [(0.7, 1.0), (2.5, 2.5), (0.1, 0.0)],
    "log_probability": [(-0.7, 0.3), (-2.0, 0.9), (0.5, 0.5)],
}

# A typical point per family: scalar-in / float-out and composition checks.
SCALAR_POINTS: dict[str, tuple[float, ...]] = {
    "regression": (0.8, 1.0), "gaussian": (0.8, 1.0, 0.5), "probability": (0.8, 1.0),
    "probability_hard": (0.8, 1.0), "logits01": (0.8, 1.0), "logits_pm1": (0.8, 1.0),
    "log_rate": (0.8, 1.0), "rate": (0.8, 1.0), "log_probability": (-0.5, 0.5),
}

FAMILY: dict[str, str | Callable[..., str]] = {
    "mse": "regression", "mae": "regression", "huber": "regression", "smooth_l1": "regression",
    "log_cosh": "regression", "quantile": "regression", "gaussian_nll": "gaussian",
    "binary_crossentropy": "probability", "binary_focal": "probability_hard",
    "bce_with_logits": "logits01", "hinge": "logits_pm1", "squared_hinge": "logits_pm1",
    "soft_margin": "logits_pm1", "kl_div": "log_probability",
    "poisson_nll": lambda log_input=1.0, **_: "log_rate" if log_input != 0 else "rate",
}

# Non-default parameter values (exact doubles); every parameter is overridden at least once.
PARAM_OVERRIDES: dict[str, list[dict[str, float]]] = {
    "huber": [{"delta": 2.0}, {"delta": 0.5}],
    "smooth_l1": [{"beta": 2.0}, {"beta": 0.5}],
    "quantile": [{"tau": 0.1}, {"tau": 0.9}],
    "poisson_nll": [{"log_input": 0.0}, {"eps": 1e-6}, {"log_input": 0.0, "eps": 1e-3}],
    "gaussian_nll": [{"eps": 1e-3}],
    "binary_focal": [{"gamma": 0.0, "alpha": 0.5}, {"gamma": 1.0}, {"alpha": 0.75, "eps": 1e-4}],
}

#: Partial derivatives by y_true that are checked as well (the brief's list).
GRAD_Y_TRUE = ("mse", "mae", "huber")


# --------------------------------------------------------------------------------------
# Kinds and table lookups
# --------------------------------------------------------------------------------------

def _kind(name: str) -> str:
    if name in CATALOG_LOSSES:
        try:
            return FORGE.get(name).kind
        except Exception:  # noqa: BLE001 - a broken entry fails in its tests
            pass
    return "classes" if name in CLASS_REFERENCES_NAMES else "elementwise"


CLASS_REFERENCES_NAMES = ("cross_entropy",)
ELEMENTWISE: tuple[str, ...] = tuple(n for n in ALL_LOSSES if _kind(n) == "elementwise")
CLASSES: tuple[str, ...] = tuple(n for n in ALL_LOSSES if _kind(n) == "classes")


def _reference(name: str) -> Callable[..., mpf]:
    if name not in REFERENCES:
        pytest.fail(f"add an mpmath reference for the loss {name!r} to REFERENCES in {__file__}",
                    pytrace=False)
    return REFERENCES[name]


def _variables(name: str) -> tuple[str, ...]:
    sig = inspect.signature(_reference(name))
    return tuple(p.name for p in sig.parameters.values() if p.default is inspect.Parameter.empty)


def _derivatives(name: str) -> dict[str, Callable[..., mpf]]:
    variables = _variables(name)
    table = DERIVATIVES.get(name)
    if table is None or set(table) != set(variables):
        pytest.fail(f"add closed-form partial derivatives by {list(variables)} for {name!r} to DERIVATIVES "
                    f"in {__file__}", pytrace=False)
    return table


def _family(name: str, params: dict[str, float]) -> str:
    _reference(name)
    if name not in FAMILY:
        pytest.fail(f"add the input grid of {name!r} to FAMILY in {__file__} (one of {sorted(FAMILIES)})",
                    pytrace=False)
    fam = FAMILY[name]
    return fam(**params) if callable(fam) else fam


def _kinks(name: str) -> Callable[..., tuple]:
    _reference(name)
    if name not in KINKS:
        pytest.fail(f"add the y_pred kinks of {name!r} to KINKS in {__file__} (lambda v, d, **p: () "
                    f"if there are none)", pytrace=False)
    return KINKS[name]


def _param_overrides(name: str) -> list[dict[str, float]]:
    keys = set(_entry(name).params)
    if not keys:
        return []
    if name not in PARAM_OVERRIDES:
        pytest.fail(f"add non-default values of {sorted(keys)} for {name} to PARAM_OVERRIDES in {__file__}",
                    pytrace=False)
    used = set().union(*map(set, PARAM_OVERRIDES[name]))
    if used != keys:
        pytest.fail(f"PARAM_OVERRIDES[{name!r}] sets {sorted(used)}; the catalog's parameters are {sorted(keys)}",
                    pytrace=False)
    return PARAM_OVERRIDES[name]


def _as_key(params: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(params.items()))


def _params(name: str, key: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """The catalog's parameter values with the overrides applied (floats)."""
    params = {k: float(v) for k, v in _entry(name).params.items()}
    params.update(dict(key))
    return params


def _mp_params(params: dict[str, float]) -> dict[str, mpf]:
    return {k: mpf(v) for k, v in params.items()}


# --------------------------------------------------------------------------------------
# Exact values and comparison
# --------------------------------------------------------------------------------------

def _cast(values, dtype) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(values, dtype=np.float64).astype(dtype)


@functools.lru_cache(maxsize=None)
def _grid(name: str, dtype_name: str, key: tuple) -> tuple[np.ndarray, ...]:
    """Columns (one per variable) of the product grid, cast to the dtype, deduplicated."""
    lists = FAMILIES[_family(name, _params(name, key))]
    dtype = np.dtype(dtype_name).type
    mesh = np.meshgrid(*[_cast(v, dtype) for v in lists], indexing="ij")
    rows = np.stack([m.ravel() for m in mesh], axis=1)
    rows = rows[np.all(np.isfinite(rows), axis=1)]
    rows = np.unique(rows, axis=0)
    return tuple(np.ascontiguousarray(rows[:, i]) for i in range(rows.shape[1]))


def _term(v: mpf, slope: mpf) -> mpf:
    """|v * slope|, with 0 * anything = 0 (e.g. y_true = 0 in kl_div, where the slope is -inf)."""
    return mpf(0) if v == 0 else abs(v * slope)


@functools.lru_cache(maxsize=None)
def _exact_values(name: str, dtype_name: str, key: tuple):
    """(columns, f, sum_v |v df/dv|) at the grid points."""
    f = _reference(name)
    parts = _derivatives(name)
    variables = _variables(name)
    cols = _grid(name, dtype_name, key)
    kw = _mp_params(_params(name, key))
    values, slopes = [], []
    with mp.workdps(DPS):
        for row in zip(*cols):
            v = [mpf(float(c)) for c in row]
            values.append(+f(*v, **kw))
            slopes.append(sum((_term(vi, parts[var](*v, **kw)) for vi, var in zip(v, variables)), mpf(0)))
    return cols, values, slopes


def _second_order(fn: Callable[..., mpf], v: list, kw: dict) -> mpf:
    """sum_i |v_i * d fn / d v_i| by central differences (only sizes a tolerance)."""
    total = mpf(0)
    with mp.workdps(DPS + 40):
        for i, vi in enumerate(v):
            if vi == 0:
                continue

            def along(t, i=i):
                w = list(v)
                w[i] = t
                return fn(*w, **kw)

            total += abs(vi * mpmath.diff(along, vi, h=abs(vi) * mpf("1e-30")))
    return +total


def _skip_for_gradient(name: str, v: list, kw: dict, dtype) -> bool:
    kinks = _kinks(name)
    exact = kinks(v, v[0] - v[1], **kw)
    with np.errstate(all="ignore"):
        d_round = mpf(float(dtype(float(v[0])) - dtype(float(v[1]))))
        kw_round = {k: mpf(float(dtype(float(x)))) for k, x in kw.items()}
    rounded = kinks(v, d_round, **kw_round)
    return any(a == 0 or b == 0 or (a > 0) != (b > 0) for a, b in zip(exact, rounded))


@functools.lru_cache(maxsize=None)
def _exact_gradient(name: str, var: str, dtype_name: str, key: tuple):
    """(columns at non-kink points, g, sum_v |v dg/dv|) for g = df/dvar."""
    g = _derivatives(name)[var]
    cols = _grid(name, dtype_name, key)
    dtype = np.dtype(dtype_name).type
    kw = _mp_params(_params(name, key))
    keep, values, slopes = [], [], []
    with mp.workdps(DPS):
        for i, row in enumerate(zip(*cols)):
            v = [mpf(float(c)) for c in row]
            if _skip_for_gradient(name, v, kw, dtype):
                continue
            keep.append(i)
            values.append(+g(*v, **kw))
            slopes.append(_second_order(g, v, kw))
    idx = np.array(keep, dtype=np.intp)
    return tuple(c[idx] for c in cols), values, slopes


def _overflow_threshold(dtype) -> mpf:
    """Smallest magnitude that rounds to inf (round to nearest): max + ulp(max)/2."""
    fi = np.finfo(dtype)
    return mpf(2) ** fi.maxexp - mpf(2) ** (fi.maxexp - fi.nmant - 2)


def _spacing(value, dtype) -> float:
    top = float(np.finfo(dtype).max)
    v = min(abs(float(value)), top)
    return float(np.spacing(dtype(v)))


def _judge(c, a: mpf, slope: mpf, dtype) -> tuple[float, float]:
    """(error / tolerance, ulps) of computed c against exact a; ratio <= 1 passes."""
    with mp.workdps(DPS):
        eps = mpf(float(np.finfo(dtype).eps))
        tiny = mpf(float(np.finfo(dtype).smallest_subnormal))
        huge = _overflow_threshold(dtype)
        c = float(c)
        if mpmath.isinf(a) or abs(a) >= huge:  # correctly rounded: the infinity of its sign
            ok = c == (np.inf if a > 0 else -np.inf)
            return (0.0, 0.0) if ok else (float("inf"), float("inf"))
        tol = 4 * eps * (abs(a) + slope) + tiny
        if np.isinf(c) and (c > 0) == (a > 0):
            err = huge - abs(a)
        elif np.isfinite(c):
            err = abs(mpf(c) - a)
        else:
            return float("inf"), float("inf")
        return float(err / tol), float(err) / _spacing(a, dtype)


def _assert_close(label: str, cols, out, exact, slopes, dtype, bound: str) -> None:
    fails = []
    for i, (a, s) in enumerate(zip(exact, slopes)):
        ratio, ulps = _judge(out[i], a, s, dtype)
        if not ratio <= 1.0:
            point = ", ".join(repr(float(c[i])) for c in cols)
            fails.append((ratio, f"({point}): computed={out[i]!r} exact={mpmath.nstr(a, 20)} "
                                 f"({ulps:.4g} ulp, {ratio:.3g} x tolerance)"))
    if fails:
        fails.sort(key=lambda r: -r[0])
        lines = [f"{label} [{np.dtype(dtype).name}]: {len(fails)}/{len(exact)} points exceed "
                 f"{bound} + smallest subnormal"] + [f"  at {text}" for _, text in fails[:10]]
        pytest.fail("\n".join(lines), pytrace=False)


@contextlib.contextmanager
def _quiet():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _kwargs(name: str, cols) -> dict[str, np.ndarray]:
    return dict(zip(_variables(name), cols))


@functools.lru_cache(maxsize=None)
def _gradient_expr(name: str, var: str):
    return _entry(name).gradient(var)


# --------------------------------------------------------------------------------------
# The catalog and the tables
# --------------------------------------------------------------------------------------

def test_loss_catalog_exists():
    assert CATALOG_ERROR is None, f"forge.list_all(category='loss') raised {CATALOG_ERROR!r}"
    assert "loss" in FORGE.categories()
    missing = [n for n in EXPECTED_LOSSES if n not in CATALOG_LOSSES]
    assert not missing, f"losses missing from the catalog: {missing} (it holds {list(CATALOG_LOSSES)})"


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_every_loss_has_a_reference(name):
    """Each catalog loss is elementwise (REFERENCES ...) or of kind classes (CLASS_REFERENCES)."""
    e = _entry(name)
    assert e.category == "loss", f"{name}: category {e.category!r}"
    if e.kind == "classes":
        assert name in CLASS_REFERENCES, f"add an mpmath reference for {name} to CLASS_REFERENCES in {__file__}"
        return
    assert e.kind == "elementwise", f"{name}: a loss of kind {e.kind!r}, which this file neither tests nor excludes"
    _reference(name)
    _derivatives(name)
    _kinks(name)
    _family(name, _params(name, ()))
    _param_overrides(name)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_variables_and_parameters(name):
    """Variables in the reference's order; parameters and defaults are the textbook ones."""
    e = _entry(name)
    ref = _reference(name)
    assert e.variables == _variables(name), f"{name}: variables {e.variables}, expected {_variables(name)}"
    expected = {p.name: p.default for p in inspect.signature(ref).parameters.values()
                if p.default is not inspect.Parameter.empty}
    assert set(e.params) == set(expected), f"{name}: parameters {sorted(e.params)}, expected {sorted(expected)}"
    with mp.workdps(DPS):
        for key, default in expected.items():
            want, got = mpf(default), e.params[key]
            assert abs(mpf(got) - want) <= abs(want) * mpf(2.0**-52), f"{name}: default {key}={got!r}, textbook {default}"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_reference_derivatives(name):
    """The closed forms in DERIVATIVES agree with mpmath.diff of REFERENCES (all parameter sets)."""
    f = _reference(name)
    parts = _derivatives(name)
    for key in [()] + [_as_key(s) for s in _param_overrides(name)]:
        kw = _mp_params(_params(name, key))
        fam = _family(name, _params(name, key))
        with mp.workdps(DPS):
            for point in CHECK_POINTS[fam]:
                v = [mpf(p) for p in point]
                for i, var in enumerate(_variables(name)):
                    def along(t, i=i):
                        w = list(v)
                        w[i] = t
                        return f(*w, **kw)
                    want = mpmath.diff(along, v[i])
                    got = parts[var](*v, **kw)
                    assert abs(got - want) <= mpf("1e-30") * (1 + abs(want)), (
                        f"{name} {dict(key)}: closed-form d/d{var} at {point} = {mpmath.nstr(got, 20)}, "
                        f"mpmath.diff {mpmath.nstr(want, 20)}")


# --------------------------------------------------------------------------------------
# 1. Pointwise values (reduction="none")
# --------------------------------------------------------------------------------------

def _check_values(name: str, dtype, key: tuple) -> None:
    e = _entry(name)
    cols, exact, slopes = _exact_values(name, np.dtype(dtype).name, key)
    with _quiet():  # floating-point flags are test_no_floating_point_errors_*'s business
        out = e.eval(**_kwargs(name, cols), reduction="none", **dict(key))
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == cols[0].shape, (
        f"{name}: eval(reduction='none') on {np.dtype(dtype).name}{cols[0].shape} returned "
        f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}")
    _assert_close(f"{name} {dict(key)} value at ({', '.join(_variables(name))})", cols, out, exact, slopes,
                  dtype, "4*eps*(|f| + sum_v |v*df/dv|)")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_value_accuracy(name, dtype):
    _check_values(name, dtype, ())


# --------------------------------------------------------------------------------------
# 2. Pointwise gradients
# --------------------------------------------------------------------------------------

def _check_gradient(name: str, var: str, dtype, key: tuple) -> None:
    cols, exact, slopes = _exact_gradient(name, var, np.dtype(dtype).name, key)
    with _quiet():  # floating-point flags are test_no_floating_point_errors_*'s business
        out = _gradient_expr(name, var).eval(**_kwargs(name, cols), **dict(key))
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == cols[0].shape, (
        f"{name}: gradient({var!r}).eval on {np.dtype(dtype).name}{cols[0].shape} returned "
        f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')} (pointwise, no reduction)")
    _assert_close(f"{name} {dict(key)} d/d{var} at ({', '.join(_variables(name))})", cols, out, exact, slopes,
                  dtype, "4*eps*(|g| + sum_v |v*dg/dv|)")


GRADIENT_CASES = [pytest.param(n, "y_pred", id=f"{n}-y_pred") for n in ELEMENTWISE] + [
    pytest.param(n, "y_true", id=f"{n}-y_true") for n in GRAD_Y_TRUE if n in ELEMENTWISE]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "var"), GRADIENT_CASES)
def test_gradient_accuracy(name, var, dtype):
    _check_gradient(name, var, dtype, ())


def _loss_parameters() -> list[tuple[str, str]]:
    pairs = []
    for name in ELEMENTWISE:
        try:
            pairs += [(name, param) for param in FORGE.get(name).params]
        except Exception:  # noqa: BLE001 - a broken entry fails in its own tests
            pass
    return pairs


LOSS_PARAMETERS = _loss_parameters()


@pytest.mark.parametrize(("name", "param"), LOSS_PARAMETERS, ids=[f"{n}-{p}" for n, p in LOSS_PARAMETERS])
def test_parameter_derivatives(name, param):
    """d/d(parameter) agrees with mpmath.diff of the reference along that parameter (flags: 0)."""
    f = _reference(name)
    params = _params(name, ())
    grad = _entry(name).gradient(param)
    for point in CHECK_POINTS[_family(name, params)]:
        with mp.workdps(DPS):
            v = [mpf(x) for x in point]
            kw = _mp_params(params)
            want = float(mpmath.diff(lambda t: f(*v, **{**kw, param: t}), kw[param]))
        got = grad.eval(**dict(zip(_variables(name), point)))
        assert abs(got - want) <= 1e-12 * (1 + abs(want)), (
            f"{name}: d/d{param} at {point} = {got!r}, mpmath.diff of the reference {want!r}")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_gradient_defaults_to_first_input(name):
    e = _entry(name)
    cols = _grid(name, "float64", ())
    kw = _kwargs(name, cols)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = e.gradient().eval(**kw), e.gradient("y_pred").eval(**kw)
    np.testing.assert_array_equal(a, b, err_msg=f"{name}: gradient() differs from gradient('y_pred')")


def _param_cases():
    for name in ELEMENTWISE:
        if name in PARAM_OVERRIDES:
            for setting in PARAM_OVERRIDES[name]:
                yield pytest.param(name, setting, id=f"{name}-" + "-".join(f"{k}={v}" for k, v in setting.items()))


@pytest.mark.parametrize("what", ("value", "gradient"))
@pytest.mark.parametrize(("name", "setting"), list(_param_cases()))
def test_parameter_overrides(name, setting, what):
    _param_overrides(name)
    if what == "value":
        _check_values(name, np.float64, _as_key(setting))
    else:
        _check_gradient(name, "y_pred", np.float64, _as_key(setting))


# --------------------------------------------------------------------------------------
# 3. Derivatives at kinks (PyTorch autograd, reference/losses.md §6a)
# --------------------------------------------------------------------------------------

# (name, params, variable, (y_pred, y_true), expected derivative)
_KINK_TABLE = [
    ("mse", {}, "y_pred", (0.0, 0.0), 0.0),
    ("mae", {}, "y_pred", (0.0, 0.0), 0.0),
    ("mae", {}, "y_pred", (1.5, 1.5), 0.0),
    ("mae", {}, "y_true", (0.0, 0.0), 0.0),
    ("smooth_l1", {}, "y_pred", (1.0, 0.0), 1.0),
    ("smooth_l1", {}, "y_pred", (-1.0, 0.0), -1.0),
    ("smooth_l1", {}, "y_pred", (0.0, 0.0), 0.0),
    ("smooth_l1", {}, "y_pred", (3.0, 2.0), 1.0),
    ("huber", {}, "y_pred", (1.0, 0.0), 1.0),
    ("huber", {}, "y_pred", (-1.0, 0.0), -1.0),
    ("huber", {}, "y_pred", (0.0, 0.0), 0.0),
    ("huber", {}, "y_true", (1.0, 0.0), -1.0),
    ("huber", {"delta": 2.0}, "y_pred", (2.0, 0.0), 2.0),
    ("huber", {"delta": 2.0}, "y_pred", (-2.0, 0.0), -2.0),
    ("bce_with_logits", {}, "y_pred", (0.0, 1.0), -0.5),
    ("soft_margin", {}, "y_pred", (0.0, 1.0), -0.5),
    ("hinge", {}, "y_pred", (1.0, 1.0), -1.0),    # y*x = 1: -y
    ("hinge", {}, "y_pred", (-1.0, -1.0), 1.0),
    ("squared_hinge", {}, "y_pred", (1.0, 1.0), 0.0),
    # the pinball's active branch at y_true == y_pred is tau*(y_true - y_pred) (>=): -tau
    ("quantile", {}, "y_pred", (1.0, 1.0), -0.5),
    ("quantile", {"tau": 0.1}, "y_pred", (0.0, 0.0), -0.1),
    # clamp(p, min=eps) passes the gradient at the bound (torch clamp / tf.clip_by_value), so
    # at p = eps the derivative is the unclamped one; Heaviside(0) = 1/2 matches no framework
    ("binary_focal", {}, "y_pred", (1e-7, 1.0), "closed form"),                     # p = eps
    ("binary_focal", {"eps": 2.0**-20}, "y_pred", (2.0**-20, 1.0), "closed form"),
    ("binary_focal", {"eps": 2.0**-20}, "y_pred", (1 - 2.0**-20, 0.0), "closed form"),  # 1 - p = eps
]

KINK_CASES = [
    pytest.param(n, p, v, pt, want, id=f"{n}-d{v}" + "".join(f"-{k}={x}" for k, x in p.items()) + f"@{pt}")
    for n, p, v, pt, want in _KINK_TABLE if n in ELEMENTWISE
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "params", "var", "point", "want"), KINK_CASES)
def test_kink_derivatives(name, params, var, point, want, dtype):
    grad = _gradient_expr(name, var)
    if want == "closed form":  # the closed form at the dtype's point, its parameters rounded alike
        if any(float(np.float32(v)) != v for v in (*point, *_params(name, tuple(params.items())).values())
               if dtype is np.float32):
            pytest.skip("the point or a parameter is not a float32 value; the float64 case pins the convention")
        with mp.workdps(DPS):
            kw = _mp_params(_params(name, tuple(params.items())))
            want = DERIVATIVES[name][var](*[mpf(x) for x in point], **kw)
    want = mpf(want)
    arrays = {k: np.array([x], dtype=dtype) for k, x in zip(("y_pred", "y_true"), point)}
    got = [grad.eval(**arrays, **params)[0]]
    if dtype is np.float64:
        got.append(grad.eval(**dict(zip(("y_pred", "y_true"), point)), **params))  # Python float path
    ulp = _spacing(want, dtype)
    for g in got:
        ok = (g == 0) if want == 0 else abs(float(g) - float(want)) <= 2 * ulp
        assert ok, (f"{name} d/d{var} at (y_pred, y_true)={point} with {params} [{np.dtype(dtype).name}] "
                    f"= {g!r}, expected {mpmath.nstr(want, 17)} (within 2 ulp; PyTorch autograd convention)")


# --------------------------------------------------------------------------------------
# 4. Edges: no floating-point errors, exact values
# --------------------------------------------------------------------------------------

def _raising(fn, cols, names, dtype) -> str | None:
    """None if fn(**inputs) raises nothing under errstate(raise), else the culprits."""
    def run(arrays):
        with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            return fn(**dict(zip(names, arrays)))

    try:
        run(cols)
        return None
    except (FloatingPointError, Warning) as exc:
        culprits = []
        for row in zip(*cols):
            try:
                run([np.array([x], dtype=dtype) for x in row])
            except (FloatingPointError, Warning) as one:
                culprits.append(f"({', '.join(repr(float(x)) for x in row)}): {one}")
        return f"{exc}; raised at {'; '.join(culprits[:6]) or '(only in the full array)'}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_no_floating_point_errors_values(name, dtype):
    """Values (none and mean) on the whole grid: edges p = 0, 1, logits +-1e4, d = +-1e4, ..."""
    e = _entry(name)
    cols = _grid(name, np.dtype(dtype).name, ())
    names = _variables(name)
    problems = []
    for reduction in ("none", "mean"):
        bad = _raising(lambda **kw: e.eval(**kw, reduction=reduction), cols, names, dtype)
        if bad:
            problems.append(f"reduction={reduction!r}: {bad}")
    with np.errstate(all="ignore"):
        out = e.eval(**_kwargs(name, cols), reduction="none")
    nans = [tuple(float(c[i]) for c in cols) for i in np.flatnonzero(np.isnan(out))]
    if nans:
        problems.append(f"NaN at {nans[:6]}")
    if problems:
        pytest.fail(f"{name} [{np.dtype(dtype).name}] under np.errstate(over/invalid/divide='raise'):\n  "
                    + "\n  ".join(problems), pytrace=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_no_floating_point_errors_gradient(name, dtype):
    """The y_pred-gradient kernel on the whole grid, kinks and edges included (DESIGN.md §5)."""
    grad = _gradient_expr(name, "y_pred")
    cols = _grid(name, np.dtype(dtype).name, ())
    bad = _raising(grad.eval, cols, _variables(name), dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = grad.eval(**_kwargs(name, cols))
    nans = [tuple(float(c[i]) for c in cols) for i in np.flatnonzero(np.isnan(out))]
    problems = ([bad] if bad else []) + ([f"NaN at {nans[:6]}"] if nans else [])
    if problems:
        pytest.fail(f"{name}' [{np.dtype(dtype).name}] under np.errstate(over/invalid/divide='raise'): "
                    + "; ".join(problems), pytrace=False)


with mp.workdps(DPS):
    _LOGCOSH_1E4 = mpf(10000) - mp.log(2)

# (name, (y_pred, y_true), exact value)
_EDGE_TABLE = [
    ("binary_crossentropy", (0.0, 1.0), mpf(100)),
    ("binary_crossentropy", (1.0, 0.0), mpf(100)),
    ("binary_crossentropy", (1.0, 1.0), mpf(0)),
    ("binary_crossentropy", (0.0, 0.0), mpf(0)),
    ("binary_crossentropy", (0.0, 0.25), mpf(25)),
    ("bce_with_logits", (1e4, 0.0), mpf(10000)),
    ("bce_with_logits", (-1e4, 1.0), mpf(10000)),
    ("bce_with_logits", (1e4, 1.0), mpf(0)),
    ("bce_with_logits", (-1e4, 0.0), mpf(0)),
    ("soft_margin", (-1e4, 1.0), mpf(10000)),
    ("soft_margin", (1e4, -1.0), mpf(10000)),
    ("soft_margin", (1e4, 1.0), mpf(0)),
    ("soft_margin", (-1e4, -1.0), mpf(0)),
    ("log_cosh", (1e4, 0.0), _LOGCOSH_1E4),
    ("log_cosh", (-1e4, 0.0), _LOGCOSH_1E4),
    ("log_cosh", (0.0, 1e4), _LOGCOSH_1E4),
    ("kl_div", (-0.5, 0.0), mpf(0)),
    ("kl_div", (0.0, 0.0), mpf(0)),
    ("kl_div", (-1e4, 0.0), mpf(0)),
    ("kl_div", (3.0, 0.0), mpf(0)),
]
EDGE_CASES = [pytest.param(n, pt, want, id=f"{n}@{pt}") for n, pt, want in _EDGE_TABLE if n in ELEMENTWISE]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "point", "want"), EDGE_CASES)
def test_edge_values(name, point, want, dtype):
    """Exactly representable results must be exact; log_cosh(+-1e4) within one ulp of 1e4 - log 2."""
    e = _entry(name)
    arrays = {k: np.array([x], dtype=dtype) for k, x in zip(("y_pred", "y_true"), point)}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = [e.eval(**arrays, reduction="none")[0]]
        if dtype is np.float64:
            got.append(e.eval(**dict(zip(("y_pred", "y_true"), point))))
    rounded = dtype(float(want))
    exact_in_dtype = mpf(float(rounded)) == want
    for g in got:
        ok = (g == rounded) if exact_in_dtype else abs(float(g) - float(want)) <= _spacing(want, dtype)
        assert ok, (f"{name}{point} [{np.dtype(dtype).name}] = {g!r}, exact {mpmath.nstr(want, 20)}"
                    + ("" if exact_in_dtype else " (within 1 ulp)"))


# --------------------------------------------------------------------------------------
# 5. Reductions, scalars, broadcasting
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_reductions(name):
    """mean and sum agree with numpy mean/sum of the exact pointwise values; mean is the default."""
    e = _entry(name)
    cols, exact, slopes = _exact_values(name, "float64", ())
    finite = [i for i, a in enumerate(exact) if abs(a) < mpf("1e100")]
    cols = tuple(c[finite] for c in cols)
    ref = np.array([float(exact[i]) for i in finite])
    n = len(ref)
    eps = np.finfo(np.float64).eps
    tol_sum = float(sum(4 * eps * (abs(exact[i]) + slopes[i]) for i in finite)) + n * eps * float(np.abs(ref).sum())
    kw = _kwargs(name, cols)
    total = e.eval(**kw, reduction="sum")
    mean = e.eval(**kw, reduction="mean")
    default = e.eval(**kw)
    for label, got, want, tol in (("sum", total, ref.sum(), tol_sum), ("mean", mean, ref.mean(), tol_sum / n)):
        assert np.ndim(got) == 0, f"{name}: reduction={label!r} returned shape {np.shape(got)}"
        assert abs(float(got) - want) <= tol, (
            f"{name}: reduction={label!r} = {float(got)!r}, numpy {label} of the exact values = {want!r} "
            f"(tolerance {tol:.3g}, n={n})")
    assert float(default) == float(mean), f"{name}: default reduction gave {default!r}, mean {mean!r}"
    with pytest.raises(ValueError):
        e.eval(**kw, reduction="avg")


def test_reduction_keyword_on_an_activation_is_a_type_error():
    relu = FORGE.get("relu")
    with pytest.raises(TypeError):
        relu.eval(x=np.array([1.0, -1.0]), reduction="mean")
    with pytest.raises(TypeError):
        relu.eval(x=1.0, reduction="none")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_scalars_give_python_float(name):
    e = _entry(name)
    point = SCALAR_POINTS[_family(name, _params(name, ()))]
    kw = dict(zip(_variables(name), point))
    got = e.eval(**kw)
    assert type(got) is float, f"{name}: eval at scalars returned {type(got).__name__}"
    with mp.workdps(DPS):
        v = [mpf(p) for p in point]
        exact = _reference(name)(*v, **_mp_params(_params(name, ())))
        slope = sum((_term(vi, _derivatives(name)[var](*v, **_mp_params(_params(name, ()))))
                     for vi, var in zip(v, _variables(name))), mpf(0))
    ratio, _ = _judge(got, exact, slope, np.float64)
    assert ratio <= 1.0, f"{name}{point} = {got!r}, exact {mpmath.nstr(exact, 20)}"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_broadcasting(name):
    """y_pred of shape (k, 1) against y_true of shape (m,): the (k, m) pointwise table."""
    e = _entry(name)
    lists = FAMILIES[_family(name, _params(name, ()))]
    yp = np.array(lists[0][:: max(1, len(lists[0]) // 6)])[:, None]
    yt = np.array(lists[1])
    extra = {v: np.float64(vals[len(vals) // 2]) for v, vals in zip(_variables(name)[2:], lists[2:])}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = e.eval(y_pred=yp, y_true=yt, **extra, reduction="none")
        flat_p, flat_t = np.broadcast_arrays(yp, yt)
        flat = e.eval(y_pred=flat_p.ravel(), y_true=flat_t.ravel(),
                      **{k: np.full(flat_p.size, v) for k, v in extra.items()}, reduction="none")
    assert table.shape == (yp.shape[0], yt.shape[0]), f"{name}: broadcast shape {table.shape}"
    np.testing.assert_array_equal(table.ravel(), flat, err_msg=f"{name}: broadcast differs from flat evaluation")


# --------------------------------------------------------------------------------------
# 6. Composition
# --------------------------------------------------------------------------------------

def _composites():
    mse, mae = _entry("mse"), _entry("mae")
    return {"compose": FORGE.compose("mse + 0.1*mae"), "operators": mse + 0.1 * mae}


@pytest.mark.parametrize("form", ("compose", "operators"))
def test_composite_loss(form):
    c = _composites()[form]
    assert c.variables == ("y_pred", "y_true"), f"{form}: variables {c.variables}"
    assert c.category == "loss", f"{form}: category {c.category!r}"
    g = c.gradient("y_pred").eval(y_pred=0.8, y_true=1.0)
    assert abs(g + 0.5) <= 1e-15, f"{form}: d/dy_pred at (0.8, 1.0) = {g!r}, closed form 2d + 0.1*sign(d) = -0.5"
    v = c.eval(y_pred=0.8, y_true=1.0)
    assert abs(v - 0.06) <= 1e-15, f"{form}: value at (0.8, 1.0) = {v!r}, closed form 0.04 + 0.02 = 0.06"
    # arrays: reduction mean by default, pointwise against the references
    yp = np.array([0.8, -3.0, 2.5, 1e4, 0.0])
    yt = np.array([1.0, 1.0, 2.5, -1.0, 1e-300])
    with mp.workdps(DPS):
        exact = [(mpf(a) - mpf(b)) ** 2 + mpf("0.1") * abs(mpf(a) - mpf(b)) for a, b in zip(yp, yt)]
    none = c.eval(y_pred=yp, y_true=yt, reduction="none")
    assert none.shape == yp.shape
    for got, want in zip(none, exact):
        assert abs(got - float(want)) <= 8 * np.finfo(float).eps * float(want) + 5e-324, (form, got, want)
    mean = c.eval(y_pred=yp, y_true=yt)
    assert np.ndim(mean) == 0 and abs(float(mean) - np.mean([float(w) for w in exact])) <= 1e-15 * float(
        max(exact)), f"{form}: default reduction {mean!r}"
    grad = c.gradient("y_pred").eval(y_pred=yp, y_true=yt)
    assert np.shape(grad) == yp.shape, f"{form}: the gradient reduced ({np.shape(grad)})"


def test_composite_forms_agree():
    a, b = _composites()["compose"], _composites()["operators"]
    yp = np.linspace(-3, 3, 13)
    yt = np.linspace(2, -1, 13)
    np.testing.assert_allclose(a.eval(y_pred=yp, y_true=yt, reduction="none"),
                               b.eval(y_pred=yp, y_true=yt, reduction="none"), rtol=1e-15, atol=0)
    np.testing.assert_allclose(a.gradient().eval(y_pred=yp, y_true=yt),
                               b.gradient().eval(y_pred=yp, y_true=yt), rtol=1e-15, atol=0)


@pytest.mark.parametrize("order", ("loss+activation", "activation+loss"))
def test_mismatched_inputs_are_a_type_error(order):
    mse, relu = _entry("mse"), FORGE.get("relu")
    with pytest.raises(TypeError) as info:
        _ = mse + relu if order == "loss+activation" else relu + mse
    msg = str(info.value)
    assert "y_pred" in msg and "y_true" in msg and re.search(r"\bx\b", msg), (
        f"the message should name both sets of inputs (x; y_pred, y_true): {msg!r}")


def test_mapping_by_composition():
    relu = FORGE.get("relu")
    mapped = relu(FORGE.symbol("y_pred") - FORGE.symbol("y_true")) + _entry("mse")
    assert set(mapped.variables) == {"y_pred", "y_true"}, mapped.variables
    assert mapped.eval(y_pred=3.0, y_true=1.0) == 6.0  # relu(2) + 4
    assert mapped.eval(y_pred=0.0, y_true=1.0) == 1.0  # relu(-1) + 1
    assert mapped.gradient("y_pred").eval(y_pred=3.0, y_true=1.0) == 5.0  # 1 + 2*2


# --------------------------------------------------------------------------------------
# 7. cross_entropy (kind "classes")
# --------------------------------------------------------------------------------------

def ref_cross_entropy(row, target: int):
    """-log_softmax(row)[target] = log(1 + sum_{j != t} exp(x_j - x_t)), and its gradient terms.

    Returns (f, s, slope) with s = softmax(row) (s_t - 1 written as -sum_{j != t} s_j) and
    slope = sum_j |x_j * (s_j - [j = t])|."""
    x = [mpf(float(v)) for v in row]
    xt = x[target]
    rest = [mp.exp(v - xt) for j, v in enumerate(x) if j != target]
    f = mpmath.log1p(sum(rest, mpf(0)))
    lse = xt + f
    s = [mp.exp(v - lse) for v in x]
    grad = [s[j] if j != target else -sum((s[k] for k in range(len(x)) if k != target), mpf(0))
            for j in range(len(x))]
    slope = sum((abs(v * g) for v, g in zip(x, grad)), mpf(0))
    return f, s, grad, slope


CLASS_REFERENCES = {"cross_entropy": ref_cross_entropy}


def _logits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240607)
    logits = rng.normal(scale=4.0, size=(8, 5))
    special = np.array([[1e4, -1e4, 0.0, 3.0, -2.0],
                        [1e4, -1e4, 0.0, 3.0, -2.0],
                        [1e4, -1e4, 0.0, 3.0, -2.0],
                        [-1e4, -1e4, -1e4, -1e4, -1e4 + 1],
                        [1e4, 1e4, 0.0, 0.0, 0.0],
                        [30.0, 0.0, 0.0, 0.0, 0.0],
                        [1e-300, -1e-300, 0.0, 5.0, -5.0]])
    target = np.concatenate([rng.integers(0, 5, size=8), [0, 1, 3, 4, 2, 0, 1]]).astype(np.int64)
    return np.concatenate([logits, special]), target


def _xent_check(got, logits, target, dtype, label):
    eps = mpf(float(np.finfo(dtype).eps))
    tiny = mpf(float(np.finfo(dtype).smallest_subnormal))
    n_classes = logits.shape[1]
    bad = []
    with mp.workdps(DPS):
        for i, (row, t) in enumerate(zip(logits, target)):
            f, _, _, slope = ref_cross_entropy(row, int(t))
            # 4 ulps of the result and of every logit, plus 4*eps per class for the log of a sum
            tol = 4 * eps * (abs(f) + slope + n_classes) + tiny
            err = abs(mpf(float(got[i])) - f) if np.isfinite(got[i]) else mpf("inf")
            if err > tol:
                bad.append(f"row {row.tolist()} target {int(t)}: computed={got[i]!r} exact={mpmath.nstr(f, 20)}")
    assert not bad, f"cross_entropy {label} [{np.dtype(dtype).name}]:\n  " + "\n  ".join(bad[:8])


def _xent():
    e = _entry("cross_entropy")
    assert e.kind == "classes" and e.category == "loss", (e.kind, e.category)
    return e


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_cross_entropy_values(dtype):
    xent = _xent()
    logits, target = _logits()
    logits = logits.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        none = xent.eval(logits, target, axis=-1, reduction="none")
        last = xent.eval(logits, target, reduction="none")
        first = xent.eval(np.ascontiguousarray(logits.T), target, axis=0, reduction="none")
    for label, got in (("axis=-1", none), ("default axis", last), ("axis=0 on the transpose", first)):
        assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == target.shape, (
            f"{label}: {type(got).__name__} {getattr(got, 'dtype', '')} {getattr(got, 'shape', '')}")
        _xent_check(got, logits, target, dtype, label)


def test_cross_entropy_reductions():
    xent = _xent()
    logits, target = _logits()
    with mp.workdps(DPS):
        exact = [ref_cross_entropy(r, int(t))[0] for r, t in zip(logits, target)]
    ref = np.array([float(v) for v in exact])
    tol = 4 * np.finfo(float).eps * float(sum(abs(v) + 5 for v in exact)) * 2
    total = xent.eval(logits, target, reduction="sum")
    mean = xent.eval(logits, target, axis=-1, reduction="mean")
    default = xent.eval(logits, target)
    assert np.ndim(total) == 0 and abs(float(total) - ref.sum()) <= tol, (total, ref.sum())
    assert np.ndim(mean) == 0 and abs(float(mean) - ref.mean()) <= tol / len(ref), (mean, ref.mean())
    assert float(default) == float(mean), (default, mean)
    with pytest.raises(ValueError):
        xent.eval(logits, target, reduction="avg")


def test_cross_entropy_gradient_logits():
    xent = _xent()
    if not hasattr(xent, "gradient_logits"):
        pytest.skip("cross_entropy exposes no gradient_logits(logits, target, axis)")
    logits, target = _logits()
    for axis, data in ((-1, logits), (0, np.ascontiguousarray(logits.T))):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            got = np.asarray(xent.gradient_logits(data, target, axis=axis))
        got = got if axis == -1 else got.T
        assert got.shape == logits.shape, f"axis={axis}: shape {got.shape}"
        eps = mpf(float(np.finfo(float).eps))
        bad = []
        with mp.workdps(DPS):
            for i, (row, t) in enumerate(zip(logits, target)):
                _, s, grad, _ = ref_cross_entropy(row, int(t))
                mean_abs = sum((sj * abs(mpf(float(v))) for sj, v in zip(s, row)), mpf(0))
                for j, (g, sj) in enumerate(zip(grad, s)):
                    tol = 4 * eps * (abs(g) + sj * (abs(mpf(float(row[j]))) + mean_abs + len(row))) + mpf(5e-324)
                    if not abs(mpf(float(got[i, j])) - g) <= tol:
                        bad.append(f"row {i} class {j} (target {int(t)}): computed={got[i, j]!r} "
                                   f"softmax - onehot={mpmath.nstr(g, 20)}")
        assert not bad, f"gradient_logits axis={axis}:\n  " + "\n  ".join(bad[:8])


# --------------------------------------------------------------------------------------
# 8. CLI
# --------------------------------------------------------------------------------------

def _run(*argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue() + err.getvalue()


def test_cli_lists_losses():
    code, out = _run("list", "--category", "loss")
    assert code == 0, out
    assert "mse" in out.split(), out
    assert out.split() == list(CATALOG_LOSSES), out


def test_cli_shows_huber():
    huber = _entry("huber")
    code, out = _run("show", "huber")
    assert code == 0, out
    assert "huber" in out and "delta" in out, out
    assert str(huber.symbolic_expr) in out, f"the formula {huber.symbolic_expr} is not printed:\n{out}"
