"""Numerical accuracy of every catalog activation against mpmath (DESIGN.md §5).

Every elementwise entry of ``forge.list_all(category="activation")`` is tested
automatically (``kind: vector`` entries such as softmax are axis functions, outside this
file); a new YAML entry needs six things in this file or its tests fail with a clear message:

* ``REFERENCES[name]``: the textbook definition (reference/activations.md §2a) in mpmath,
  ``f(x: mpf, **params) -> mpf`` with the textbook defaults as keyword defaults;
* ``DERIVATIVES[name]``: closed forms ``(f', f'')`` of that definition in mpmath.
  ``mpmath.diff`` is *not* used for reference values: its finite differences are taken at
  a fixed working precision, so they lose every digit where the function saturates
  (sigmoid'(300) = 5e-131 is computed from 1 - 5e-131 - (1 - 5e-131)), and with its
  default absolute step they straddle the kink at 0 for x = 1e-300. The closed forms are
  checked against ``mpmath.diff`` at moderate points (``test_reference_derivatives``);
* ``LIMITS[name]``: the exact ``(f(-inf), f(+inf), f'(-inf), f'(+inf))``;
* ``KINKS[name]``: the points where f' jumps (``lambda: ()`` for none); the derivative
  accuracy check skips exactly these points (not their neighbours). Points where only f''
  jumps (C1 joins) go to the optional ``C1_JOINS``, skipped only by the mpmath.diff check;
* ``KINK_CASES``: f' at 0 and at every kink, with PyTorch's convention (reference §4);
* ``PARAM_OVERRIDES[name]`` (entries with parameters): non-default parameter values.

The parameters of every callable in these tables (after ``x``) carry the same names and
textbook defaults as the reference (``test_table_signatures``).

Reference values never come from the code under test (no kernel, no ``symbolic_expr``).

Accuracy criterion (DESIGN.md §5), per grid point x, with exact mpmath values f, f', f'':

    value:       |computed - f(x)|  <= 4*eps*(|f(x)|  + |x*f'(x)|)  + TINY
    derivative:  |computed - f'(x)| <= 4*eps*(|f'(x)| + |x*f''(x)|) + TINY

TINY is the dtype's smallest subnormal (float64 5e-324, float32 1.4e-45): an exact value
below it (e.g. sigmoid(-1e4) = e^-10000) has no representation other than 0 and a
subnormal result carries an absolute rounding error of up to half that quantum, so a
purely relative bound cannot be met there by any implementation. Nothing else is added.

Overflow: an exact value at or beyond the dtype's rounding threshold to infinity
(float64: 2^1024 - 2^970, e.g. exp(800)) is correctly rounded to +-inf, so the computed
value must then be that infinity, exactly (a finite result, even the largest double,
fails). Conversely a computed +-inf is accepted only when some real number within the
tolerance of the exact value rounds to it, i.e. |f(x)| + tolerance >= the threshold.

Exact values are computed once per (entry, parameters, dtype, grid) and cached;
``measure`` is importable so that a helper script can print a summary table.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from mathforge import MathForge

DPS = 50

FORGE = MathForge()
ALL_ACTIVATIONS: tuple[str, ...] = tuple(FORGE.list_all(category="activation"))
#: Elementwise entries, the subject of this file. Axis-wise (``kind: vector``) entries
#: have no pointwise f(x), f'(x) and are excluded by name of kind, never silently: an entry
#: of any other kind fails test_every_activation_is_covered.
NAMES: tuple[str, ...] = tuple(n for n in ALL_ACTIVATIONS if FORGE.get(n).kind == "elementwise")
NOT_POINTWISE_KINDS = ("vector",)

DTYPES = (np.float64, np.float32)
DTYPE_IDS = ("float64", "float32")

with mp.workdps(DPS + 10):
    SELU_LAMBDA = mpf("1.0507009873554804934193349852946")
    SELU_ALPHA = mpf("1.6732632423543772848170429916717")
    GELU_TANH_C = mpmath.sqrt(2 / mp.pi)
    GELU_TANH_K = mpf("0.044715")
    QUICK_GELU_K = mpf("1.702")  # timm's literal, an exact decimal


# --------------------------------------------------------------------------------------
# References: textbook definitions in mpmath (reference/activations.md §2a).
# Parameter defaults are the textbook / PyTorch defaults, written as decimal strings so
# that they are read at the working precision; overrides arrive as floats (exact).
# --------------------------------------------------------------------------------------

def _sig(t: mpf) -> mpf:
    """Logistic 1/(1+e^-t): no cancellation for any t (mpmath exponents are unbounded)."""
    return 1 / (1 + mp.exp(-t))


def _one_plus_tanh(u: mpf) -> mpf:
    """1 + tanh(u), at a precision that resolves it: for u < 0 it is ~2e^(2u), so 1 + tanh
    cancels ~0.87|u| digits. Capped where the result is far below any float range."""
    extra = 10 + min(int(0.87 * abs(u)), 900) if u < 0 else 0
    with mp.workdps(mp.dps + extra):
        r = 1 + mp.tanh(u)
    return +r


def ref_linear(x):
    return x


def ref_relu(x):
    return x if x > 0 else mpf(0)


def ref_leaky_relu(x, alpha="0.01"):
    return x if x >= 0 else mpf(alpha) * x


def ref_elu(x, alpha="1.0"):
    return x if x > 0 else mpf(alpha) * mpmath.expm1(x)


def ref_selu(x):
    return SELU_LAMBDA * (x if x > 0 else SELU_ALPHA * mpmath.expm1(x))


def ref_sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def ref_tanh(x):
    return mp.tanh(x)


def ref_softplus(x, beta="1.0"):
    b = mpf(beta)
    return mpmath.log1p(mp.exp(b * x)) / b


def ref_swish(x, beta="1.0"):
    b = mpf(beta)
    return x / (1 + mp.exp(-b * x))


def ref_gelu(x):
    return x * mpmath.ncdf(x)


def _gelu_tanh_u(x):
    return GELU_TANH_C * (x + GELU_TANH_K * x**3)


def ref_gelu_tanh(x):
    return x * _one_plus_tanh(_gelu_tanh_u(x)) / 2


def ref_softsign(x):
    return x / (1 + abs(x))


def _digits_for(ratio_mag: int) -> int:
    """Extra decimal digits that resolve a difference 2^-ratio_mag times smaller than its
    terms (plus a margin of 10), for the cancelling formulas below."""
    return 10 + max(0, int(0.302 * ratio_mag) + 1)


def ref_relu6(x):
    return min(max(x, mpf(0)), mpf(6))


def ref_prelu(x, alpha="0.25"):
    return x if x > 0 else mpf(alpha) * x


# PyTorch's upper = 1/3 is the double 0.3333333333333333 (= 1/3 - 1.9e-17); the catalog
# stores that double. Eval mode: the slope is the mean (lower + upper)/2.
def ref_rrelu(x, lower="0.125", upper="0.3333333333333333"):
    return x if x > 0 else (mpf(lower) + mpf(upper)) / 2 * x


def ref_threshold(x, threshold="0.0", value="0.0"):
    return x if x > mpf(threshold) else mpf(value)


def ref_celu(x, alpha="1.0"):
    a = mpf(alpha)
    return max(mpf(0), x) + min(mpf(0), a * mpmath.expm1(x / a))


def ref_quick_gelu(x):
    return x * _sig(QUICK_GELU_K * x)


def ref_log_sigmoid(x):
    return -mpmath.log1p(mp.exp(-x))


def ref_hard_sigmoid(x):
    # clip(x/6 + 1/2, 0, 1), written (x + 3)/6 so that the sum is exact at any x
    return min(max((x + 3) / 6, mpf(0)), mpf(1))


def ref_sparse_sigmoid(x):
    return min(max((x + 1) / 2, mpf(0)), mpf(1))


def ref_hard_tanh(x, min_val="-1.0", max_val="1.0"):
    return max(mpf(min_val), min(x, mpf(max_val)))


def ref_tanh_shrink(x):
    """x - tanh(x): near 0 the terms agree to ~2*log10(1/|x|) digits (the result is ~x^3/3),
    so the subtraction is carried out at a precision that keeps DPS digits of the result."""
    if x == 0:
        return mpf(0)
    with mp.workdps(mp.dps + _digits_for(-2 * mpmath.mag(x))):
        r = x - mp.tanh(x)
    return +r


def ref_hard_shrink(x, lambd="0.5"):
    return x if abs(x) > mpf(lambd) else mpf(0)


def ref_soft_shrink(x, lambd="0.5"):
    lam = mpf(lambd)
    return x - lam if x > lam else (x + lam if x < -lam else mpf(0))


def ref_sparse_plus(x):
    if x <= -1:
        return mpf(0)
    return (x + 1) ** 2 / 4 if x < 1 else x


def _squareplus_digits(x, b) -> int:
    # for x < 0, x + sqrt(x^2 + b) ~ b/(2|x|): the terms cancel to ~ x^2/b
    return _digits_for(2 * mpmath.mag(x) - mpmath.mag(b)) if x < 0 and b != 0 else 0


def ref_squareplus(x, b="4.0"):
    b = mpf(b)
    with mp.workdps(mp.dps + _squareplus_digits(x, b)):
        r = (x + mp.sqrt(x**2 + b)) / 2
    return +r


def ref_hard_swish(x):
    return x * ref_hard_sigmoid(x)


def _mish_sp(x):
    return mpmath.log1p(mp.exp(x))  # softplus, exact in mpmath for any x


def ref_mish(x):
    return x * mp.tanh(_mish_sp(x))


def ref_hard_mish(x):
    return x * min(max(x + 2, mpf(0)), mpf(2)) / 2


def ref_exponential(x):
    return mp.exp(x)


REFERENCES: dict[str, Callable[..., mpf]] = {
    "linear": ref_linear,
    "relu": ref_relu,
    "leaky_relu": ref_leaky_relu,
    "elu": ref_elu,
    "selu": ref_selu,
    "sigmoid": ref_sigmoid,
    "tanh": ref_tanh,
    "softplus": ref_softplus,
    "swish": ref_swish,
    "gelu": ref_gelu,
    "gelu_tanh": ref_gelu_tanh,
    "softsign": ref_softsign,
    "relu6": ref_relu6,
    "prelu": ref_prelu,
    "rrelu": ref_rrelu,
    "threshold": ref_threshold,
    "celu": ref_celu,
    "quick_gelu": ref_quick_gelu,
    "log_sigmoid": ref_log_sigmoid,
    "hard_sigmoid": ref_hard_sigmoid,
    "sparse_sigmoid": ref_sparse_sigmoid,
    "hard_tanh": ref_hard_tanh,
    "tanh_shrink": ref_tanh_shrink,
    "hard_shrink": ref_hard_shrink,
    "soft_shrink": ref_soft_shrink,
    "sparse_plus": ref_sparse_plus,
    "squareplus": ref_squareplus,
    "hard_swish": ref_hard_swish,
    "mish": ref_mish,
    "hard_mish": ref_hard_mish,
    "exponential": ref_exponential,
}


# Closed-form first and second derivatives of the references (one-sided at kinks: the
# accuracy tests skip kinks, test_kink_derivatives pins the conventions there).

def _gelu_tanh_d1(x):
    c, k = GELU_TANH_C, GELU_TANH_K
    u = _gelu_tanh_u(x)
    return _one_plus_tanh(u) / 2 + x * mp.sech(u) ** 2 * c * (1 + 3 * k * x**2) / 2


def _gelu_tanh_d2(x):
    c, k = GELU_TANH_C, GELU_TANH_K
    u = _gelu_tanh_u(x)
    s2, t = mp.sech(u) ** 2, mp.tanh(u)
    du, d2u = c * (1 + 3 * k * x**2), 6 * c * k * x
    return s2 * du + x * s2 * (d2u - 2 * t * du**2) / 2


def _swish_d1(x, beta="1.0"):
    b = mpf(beta)
    s, q = _sig(b * x), _sig(-b * x)
    return s + b * x * s * q


def _swish_d2(x, beta="1.0"):
    b = mpf(beta)
    s, q = _sig(b * x), _sig(-b * x)
    return b * s * q * (2 + b * x * (q - s))


def _step(cond, slope) -> mpf:
    return mpf(slope) if cond else mpf(0)


def _celu_d1(x, alpha="1.0"):
    # d/dx max(0, x) + d/dx min(0, g), g = alpha*expm1(x/alpha), g' = exp(x/alpha);
    # at x = 0 (g = 0) both sides give 1 (C1): the left piece is taken.
    a = mpf(alpha)
    return _step(x > 0, 1) + (mp.exp(x / a) if a * mpmath.expm1(x / a) <= 0 else mpf(0))


def _celu_d2(x, alpha="1.0"):
    a = mpf(alpha)
    return mp.exp(x / a) / a if a * mpmath.expm1(x / a) <= 0 else mpf(0)


def _squareplus_d1(x, b="4.0"):
    b = mpf(b)
    with mp.workdps(mp.dps + _squareplus_digits(x, b)):
        r = (1 + x / mp.sqrt(x**2 + b)) / 2
    return +r


def _squareplus_d2(x, b="4.0"):
    b = mpf(b)
    return b / (2 * (x**2 + b) ** mpf(1.5))


def _mish_d1(x):
    sp = _mish_sp(x)
    return mp.tanh(sp) + x * mp.sech(sp) ** 2 * _sig(x)


def _mish_d2(x):
    sp = _mish_sp(x)
    t, s, q = mp.tanh(sp), _sig(x), _sig(-x)
    return mp.sech(sp) ** 2 * s * (2 + x * (q - 2 * t * s))


# At a kink the closed form f' takes PyTorch's value (reference §4); f'' is that piece's.
DERIVATIVES: dict[str, tuple[Callable[..., mpf], Callable[..., mpf]]] = {
    "linear": (lambda x: mpf(1), lambda x: mpf(0)),
    "relu": (lambda x: mpf(1) if x > 0 else mpf(0), lambda x: mpf(0)),
    "leaky_relu": (lambda x, alpha="0.01": mpf(1) if x > 0 else mpf(alpha),
                   lambda x, alpha="0.01": mpf(0)),
    "elu": (lambda x, alpha="1.0": mpf(1) if x > 0 else mpf(alpha) * mp.exp(x),
            lambda x, alpha="1.0": mpf(0) if x > 0 else mpf(alpha) * mp.exp(x)),
    "selu": (lambda x: SELU_LAMBDA if x > 0 else SELU_LAMBDA * SELU_ALPHA * mp.exp(x),
             lambda x: mpf(0) if x > 0 else SELU_LAMBDA * SELU_ALPHA * mp.exp(x)),
    "sigmoid": (lambda x: _sig(x) * _sig(-x),
                lambda x: _sig(x) * _sig(-x) * (_sig(-x) - _sig(x))),
    "tanh": (lambda x: mp.sech(x) ** 2, lambda x: -2 * mp.tanh(x) * mp.sech(x) ** 2),
    "softplus": (lambda x, beta="1.0": _sig(mpf(beta) * x),
                 lambda x, beta="1.0": mpf(beta) * _sig(mpf(beta) * x) * _sig(-mpf(beta) * x)),
    "swish": (_swish_d1, _swish_d2),
    "gelu": (lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x),
             lambda x: mpmath.npdf(x) * (2 - x**2)),
    "gelu_tanh": (_gelu_tanh_d1, _gelu_tanh_d2),
    "softsign": (lambda x: 1 / (1 + abs(x)) ** 2,
                 lambda x: -2 * mpmath.sign(x) / (1 + abs(x)) ** 3),
    "relu6": (lambda x: _step(0 < x < 6, 1), lambda x: mpf(0)),
    "prelu": (lambda x, alpha="0.25": mpf(1) if x > 0 else mpf(alpha),
              lambda x, alpha="0.25": mpf(0)),
    "rrelu": (lambda x, lower="0.125", upper="0.3333333333333333":
              mpf(1) if x > 0 else (mpf(lower) + mpf(upper)) / 2,
              lambda x, lower="0.125", upper="0.3333333333333333": mpf(0)),
    "threshold": (lambda x, threshold="0.0", value="0.0": _step(x > mpf(threshold), 1),
                  lambda x, threshold="0.0", value="0.0": mpf(0)),
    "celu": (_celu_d1, _celu_d2),
    "quick_gelu": (lambda x: _swish_d1(x, QUICK_GELU_K), lambda x: _swish_d2(x, QUICK_GELU_K)),
    "log_sigmoid": (lambda x: _sig(-x), lambda x: -_sig(x) * _sig(-x)),
    "hard_sigmoid": (lambda x: _step(-3 < x < 3, mpf(1) / 6), lambda x: mpf(0)),
    "sparse_sigmoid": (lambda x: _step(-1 < x < 1, "0.5"), lambda x: mpf(0)),
    "hard_tanh": (lambda x, min_val="-1.0", max_val="1.0":
                  _step(mpf(min_val) < x < mpf(max_val), 1),
                  lambda x, min_val="-1.0", max_val="1.0": mpf(0)),
    "tanh_shrink": (lambda x: mp.tanh(x) ** 2, lambda x: 2 * mp.tanh(x) * mp.sech(x) ** 2),
    "hard_shrink": (lambda x, lambd="0.5": _step(abs(x) > mpf(lambd), 1),
                    lambda x, lambd="0.5": mpf(0)),
    "soft_shrink": (lambda x, lambd="0.5": _step(abs(x) > mpf(lambd), 1),
                    lambda x, lambd="0.5": mpf(0)),
    # C1 at -1 and 1; f'' there is taken from the outer piece
    "sparse_plus": (lambda x: mpf(0) if x <= -1 else ((x + 1) / 2 if x < 1 else mpf(1)),
                    lambda x: _step(-1 < x < 1, "0.5")),
    "squareplus": (_squareplus_d1, _squareplus_d2),
    # kinks: f'(-3) = 0 (left piece), f'(3) = 1 (right piece), as PyTorch
    "hard_swish": (lambda x: mpf(0) if x <= -3 else ((2 * x + 3) / 6 if x < 3 else mpf(1)),
                   lambda x: _step(-3 < x < 3, mpf(1) / 3)),
    "mish": (_mish_d1, _mish_d2),
    # kink at -2: f' = -1 (right piece, PyTorch); C1 at 0 (f' = 1 on both sides)
    "hard_mish": (lambda x: mpf(0) if x < -2 else (x + 1 if x < 0 else mpf(1)),
                  lambda x: _step(-2 <= x < 0, 1)),
    "exponential": (lambda x: mp.exp(x), lambda x: mp.exp(x)),
}

# Exact (f(-inf), f(+inf), f'(-inf), f'(+inf)), with the references' parameter defaults.
_INF = mpmath.inf


def _slope_times_minus_inf(slope) -> mpf:
    """lim_{x -> -inf} slope*x (0 for a zero slope, not nan)."""
    slope = mpf(slope)
    return -_INF * mpmath.sign(slope) if slope != 0 else mpf(0)


LIMITS: dict[str, Callable[..., tuple[mpf, mpf, mpf, mpf]]] = {
    "linear": lambda: (-_INF, _INF, mpf(1), mpf(1)),
    "relu": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "leaky_relu": lambda alpha="0.01": (-_INF, _INF, mpf(alpha), mpf(1)),
    "elu": lambda alpha="1.0": (-mpf(alpha), _INF, mpf(0), mpf(1)),
    "selu": lambda: (-SELU_LAMBDA * SELU_ALPHA, _INF, mpf(0), SELU_LAMBDA),
    "sigmoid": lambda: (mpf(0), mpf(1), mpf(0), mpf(0)),
    "tanh": lambda: (mpf(-1), mpf(1), mpf(0), mpf(0)),
    "softplus": lambda beta="1.0": (mpf(0), _INF, mpf(0), mpf(1)),
    "swish": lambda beta="1.0": (mpf(0), _INF, mpf(0), mpf(1)),
    "gelu": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "gelu_tanh": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "softsign": lambda: (mpf(-1), mpf(1), mpf(0), mpf(0)),
    "relu6": lambda: (mpf(0), mpf(6), mpf(0), mpf(0)),
    "prelu": lambda alpha="0.25": (_slope_times_minus_inf(alpha), _INF, mpf(alpha), mpf(1)),
    "rrelu": lambda lower="0.125", upper="0.3333333333333333": (
        _slope_times_minus_inf((mpf(lower) + mpf(upper)) / 2), _INF,
        (mpf(lower) + mpf(upper)) / 2, mpf(1)),
    "threshold": lambda threshold="0.0", value="0.0": (mpf(value), _INF, mpf(0), mpf(1)),
    "celu": lambda alpha="1.0": (-mpf(alpha), _INF, mpf(0), mpf(1)),
    "quick_gelu": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "log_sigmoid": lambda: (-_INF, mpf(0), mpf(1), mpf(0)),
    "hard_sigmoid": lambda: (mpf(0), mpf(1), mpf(0), mpf(0)),
    "sparse_sigmoid": lambda: (mpf(0), mpf(1), mpf(0), mpf(0)),
    "hard_tanh": lambda min_val="-1.0", max_val="1.0": (mpf(min_val), mpf(max_val), mpf(0), mpf(0)),
    "tanh_shrink": lambda: (-_INF, _INF, mpf(1), mpf(1)),
    "hard_shrink": lambda lambd="0.5": (-_INF, _INF, mpf(1), mpf(1)),
    "soft_shrink": lambda lambd="0.5": (-_INF, _INF, mpf(1), mpf(1)),
    "sparse_plus": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "squareplus": lambda b="4.0": (mpf(0), _INF, mpf(0), mpf(1)),
    "hard_swish": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "mish": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "hard_mish": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "exponential": lambda: (mpf(0), _INF, mpf(0), _INF),
}

# Points where f' jumps, as functions of the parameters: skipped by the derivative
# accuracy check, pinned by KINK_CASES. Every entry is listed (``()``: f' is continuous).
KINKS: dict[str, Callable[..., tuple]] = {
    "linear": lambda: (),
    "relu": lambda: (0,),
    "leaky_relu": lambda alpha="0.01": (0,),
    "elu": lambda alpha="1.0": (0,),  # a jump unless alpha = 1
    "selu": lambda: (0,),
    "sigmoid": lambda: (),
    "tanh": lambda: (),
    "softplus": lambda beta="1.0": (),
    "swish": lambda beta="1.0": (),
    "gelu": lambda: (),
    "gelu_tanh": lambda: (),
    "softsign": lambda: (),
    "relu6": lambda: (0, 6),
    "prelu": lambda alpha="0.25": (0,),
    "rrelu": lambda lower="0.125", upper="0.3333333333333333": (0,),
    "threshold": lambda threshold="0.0", value="0.0": (mpf(threshold),),
    "celu": lambda alpha="1.0": (),  # C1 for every alpha
    "quick_gelu": lambda: (),
    "log_sigmoid": lambda: (),
    "hard_sigmoid": lambda: (-3, 3),
    "sparse_sigmoid": lambda: (-1, 1),
    "hard_tanh": lambda min_val="-1.0", max_val="1.0": (mpf(min_val), mpf(max_val)),
    "tanh_shrink": lambda: (),
    "hard_shrink": lambda lambd="0.5": (-mpf(lambd), mpf(lambd)),
    "soft_shrink": lambda lambd="0.5": (-mpf(lambd), mpf(lambd)),
    "sparse_plus": lambda: (),  # C1
    "squareplus": lambda b="4.0": (),
    "hard_swish": lambda: (-3, 3),
    "mish": lambda: (),
    "hard_mish": lambda: (-2,),  # C1 at 0
    "exponential": lambda: (),
}

# Points where f' is continuous but f'' jumps (C1 joins): mpmath.diff straddles them, so
# test_reference_derivatives skips them (with the KINKS); the accuracy tests do not.
C1_JOINS: dict[str, Callable[..., tuple]] = {
    "celu": lambda alpha="1.0": (0,),
    "sparse_plus": lambda: (-1, 1),
    "hard_mish": lambda: (0,),
}


def _reference(name: str) -> Callable[..., mpf]:
    if name not in REFERENCES:
        pytest.fail(f"add an mpmath reference for {name} to REFERENCES in {__file__}", pytrace=False)
    return REFERENCES[name]


def _derivatives(name: str) -> tuple[Callable[..., mpf], Callable[..., mpf]]:
    _reference(name)
    if name not in DERIVATIVES:
        pytest.fail(f"add closed-form mpmath derivatives (f', f'') for {name} to DERIVATIVES "
                    f"in {__file__}", pytrace=False)
    return DERIVATIVES[name]


def _limits(name: str) -> Callable[..., tuple[mpf, mpf, mpf, mpf]]:
    _reference(name)
    if name not in LIMITS:
        pytest.fail(f"add the exact limits f(-inf), f(+inf), f'(-inf), f'(+inf) for {name} to "
                    f"LIMITS in {__file__}", pytrace=False)
    return LIMITS[name]


def _kinks_table(name: str) -> Callable[..., tuple]:
    _reference(name)
    if name not in KINKS:
        pytest.fail(f"add the points where {name}' jumps to KINKS in {__file__} "
                    f"(lambda: () if there are none)", pytrace=False)
    return KINKS[name]


@functools.lru_cache(maxsize=None)
def _kinks(name: str, params: tuple[tuple[str, float], ...] = ()) -> tuple[float, ...]:
    with mp.workdps(DPS):
        return tuple(float(k) for k in _kinks_table(name)(**dict(params)))


@functools.lru_cache(maxsize=None)
def _c1_joins(name: str, params: tuple[tuple[str, float], ...] = ()) -> tuple[float, ...]:
    with mp.workdps(DPS):
        return tuple(float(k) for k in C1_JOINS.get(name, lambda **_: ())(**dict(params)))


# --------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------

_SPECIAL = (0.5, 1.0, 2.0, 3.0, 6.0)


def _with_neighbours(values, dtype) -> list:
    out = []
    for v in values:
        v = dtype(v)
        out += [v, np.nextafter(v, dtype(-np.inf)), np.nextafter(v, dtype(np.inf))]
    return out


def _symmetric(positive) -> np.ndarray:
    positive = np.asarray(positive)
    return np.concatenate([[0.0], positive, -positive])


def _make_grids() -> dict[tuple[str, str], np.ndarray]:
    pos = np.logspace(-300, 4, 200)
    main64 = np.unique(_symmetric(np.concatenate(
        [pos, np.array(_with_neighbours(_SPECIAL, np.float64))])).astype(np.float64))
    with np.errstate(all="ignore"):
        cast = main64.astype(np.float32)
    extra32 = np.array(_with_neighbours(_SPECIAL, np.float32), dtype=np.float32)
    extra32 = np.concatenate([extra32, -extra32])
    main32 = np.unique(np.concatenate([cast[np.isfinite(cast)], extra32]))  # -0.0 == 0.0: one zero
    param64 = np.unique(_symmetric(np.logspace(-10, 3, 60)).astype(np.float64))
    return {("main", "float64"): main64, ("main", "float32"): main32,
            ("param", "float64"): param64}


GRIDS = _make_grids()


# --------------------------------------------------------------------------------------
# Exact values (cached) and measurement
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _expression(name: str, order: int):
    e = FORGE.get(name)
    return e.gradient("x") if order else e


@functools.lru_cache(maxsize=None)
def _exact_values(name: str, grid: str, dtype_name: str, params: tuple[tuple[str, float], ...]):
    """(xs, [f], [f'], [f'']) with mpf values at the grid points (exact dtype values)."""
    f = _reference(name)
    d1, d2 = _derivatives(name)
    kw = dict(params)
    xs = GRIDS[(grid, dtype_name)]
    v0, v1, v2 = [], [], []
    with mp.workdps(DPS):
        for x in xs:
            xm = mpf(float(x))
            v0.append(+f(xm, **kw))
            v1.append(+d1(xm, **kw))
            v2.append(+d2(xm, **kw))
    return xs, v0, v1, v2


def _at_kink(name: str, x: float, params: tuple[tuple[str, float], ...] = ()) -> bool:
    """Only the kink itself is skipped (kinks are doubles, since parameters are): at its
    neighbours, e.g. nextafter(3, 0) for hard_sigmoid, f' is defined and is checked."""
    return any(x == k for k in _kinks(name, params))


def _spacing(value: mpf, dtype) -> float:
    """The dtype's ulp at |value| (at the largest finite number for larger values)."""
    top = float(np.finfo(dtype).max)
    v = float(value) if abs(value) < top else top
    return float(np.spacing(dtype(abs(v))))


def _overflow_threshold(dtype) -> mpf:
    """Smallest magnitude that rounds to inf (round to nearest): max + ulp(max)/2."""
    fi = np.finfo(dtype)
    return mpf(2) ** fi.maxexp - mpf(2) ** (fi.maxexp - fi.nmant - 2)


@dataclasses.dataclass
class Measurement:
    name: str
    dtype: str
    order: int
    params: tuple
    n_points: int
    failures: list  # (ratio, x, computed, exact, error, ulps), worst first
    worst: tuple    # same layout: the point with the largest error/tolerance ratio
    max_ulps: float
    max_ulps_x: float

    def message(self) -> str:
        what = "f'" if self.order else "f"
        bound = "4*eps*(|f'|+|x*f''|)" if self.order else "4*eps*(|f|+|x*f'|)"
        ratio, x, c, ex, err, ulps = self.worst
        lines = [
            f"{self.name} {what} [{self.dtype}] params={dict(self.params)}: "
            f"{len(self.failures)}/{self.n_points} points exceed {bound} + smallest subnormal",
            f"  worst x={x!r}: computed={c!r} exact={mpmath.nstr(ex, 20)} "
            f"error={err:.3e} = {ulps:.4g} ulp ({ratio:.4g} x tolerance)",
        ]
        for r, x, c, ex, err, ulps in self.failures[1:8]:
            lines.append(f"  also x={x!r}: computed={c!r} exact={mpmath.nstr(ex, 17)} "
                         f"{ulps:.4g} ulp ({r:.3g} x tol)")
        return "\n".join(lines)


def measure(name: str, dtype=np.float64, order: int = 0, grid: str = "main",
            params: tuple[tuple[str, float], ...] = ()) -> Measurement:
    """Evaluate f (order 0) or f' (order 1) on a grid and compare with mpmath."""
    dtype = np.dtype(dtype).type
    dname = np.dtype(dtype).name
    xs, v0, v1, v2 = _exact_values(name, grid, dname, params)
    exact, slope = (v1, v2) if order else (v0, v1)
    out = _expression(name, order).eval(x=xs, **dict(params))
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == xs.shape, (
        f"{name} {'derivative ' if order else ''}eval on {dname}{xs.shape} returned "
        f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}")
    failures, rows = [], []
    n = 0
    max_ulps, max_ulps_x = 0.0, float("nan")
    with mp.workdps(DPS):
        eps = mpf(float(np.finfo(dtype).eps))
        tiny = mpf(float(np.finfo(dtype).smallest_subnormal))
        huge = _overflow_threshold(dtype)
        for i, x in enumerate(xs):
            if order and _at_kink(name, float(x), params):
                continue
            n += 1
            a, b, c = exact[i], slope[i], out[i]
            xm = mpf(float(x))
            tol = 4 * eps * (abs(a) + abs(xm * b)) + tiny
            if abs(a) >= huge:  # the correctly rounded value is +-inf: nothing else will do
                if c == (np.inf if a > 0 else -np.inf):
                    err, ratio, ulps = mpf(0), 0.0, 0.0
                else:
                    err = abs(mpf(float(c)) - a) if np.isfinite(c) else mpf("inf")
                    ratio, ulps = float("inf"), float("inf")
            elif np.isinf(c) and (c > 0) == (a > 0):
                # +-inf stands for every real beyond the threshold; the nearest is `huge`
                err = huge - abs(a)
                ratio = float(err / tol)
                ulps = float(err) / _spacing(a, dtype)
            elif np.isfinite(c):
                err = abs(mpf(float(c)) - a)
                ratio = float(err / tol)
                ulps = float(err) / _spacing(a, dtype)
            else:
                err, ratio, ulps = mpf("inf"), float("inf"), float("inf")
            row = (ratio, float(x), c, a, float(err), ulps)
            rows.append(row)
            if ulps > max_ulps:
                max_ulps, max_ulps_x = ulps, float(x)
            if not ratio <= 1.0:
                failures.append(row)
    failures.sort(key=lambda r: -r[0])
    worst = failures[0] if failures else max(rows, key=lambda r: r[0])
    return Measurement(name, dname, order, params, n, failures, worst, max_ulps, max_ulps_x)


def _assert_accurate(m: Measurement) -> None:
    if m.failures:
        pytest.fail(m.message(), pytrace=False)


# --------------------------------------------------------------------------------------
# Tests: references themselves
# --------------------------------------------------------------------------------------

def test_every_activation_is_covered():
    """Each activation is elementwise (tested here) or of a kind known not to be pointwise."""
    others = {n: FORGE.get(n).kind for n in ALL_ACTIVATIONS if n not in NAMES}
    unknown = {n: k for n, k in others.items() if k not in NOT_POINTWISE_KINDS}
    assert not unknown, f"activations of a kind this file neither tests nor excludes: {unknown}"


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_reference_exists(name):
    """Every table has an entry for every elementwise activation of the catalog."""
    _reference(name)
    _derivatives(name)
    _limits(name)
    _kinks_table(name)
    with mp.workdps(DPS):
        needed = sorted(set(_kinks(name)) | {0.0})
    have = {float(at) for n, params, _, at in _KINK_TABLE if n == name and not params}
    missing = [k for k in needed if k not in have]
    if missing:
        pytest.fail(f"add KINK_CASES for {name}'(x) at x = {missing} (default parameters; "
                    f"PyTorch's value, reference/activations.md §4) in {__file__}", pytrace=False)
    keys = set(FORGE.get(name).params)
    if keys:
        _param_overrides(name)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_table_signatures(name):
    """Every table's callables take the reference's parameters, with the same defaults."""
    def params_of(fn, skip):
        return [(p.name, p.default) for p in list(inspect.signature(fn).parameters.values())[skip:]]

    want = params_of(_reference(name), 1)
    d1, d2 = _derivatives(name)
    tables = [("DERIVATIVES f'", d1, 1), ("DERIVATIVES f''", d2, 1), ("LIMITS", _limits(name), 0),
              ("KINKS", _kinks_table(name), 0)]
    if name in C1_JOINS:
        tables.append(("C1_JOINS", C1_JOINS[name], 0))
    for label, fn, skip in tables:
        got = params_of(fn, skip)
        assert got == want, f"{name}: {label} takes parameters {got}, the reference {want}"


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_parameters_match_reference(name):
    """The catalog's parameters and defaults are the textbook ones of the reference."""
    ref = _reference(name)
    expected = {p.name: p.default for p in list(inspect.signature(ref).parameters.values())[1:]}
    params = dict(FORGE.get(name).params)
    assert set(params) == set(expected), (
        f"{name}: catalog parameters {sorted(params)} != reference parameters {sorted(expected)}")
    with mp.workdps(DPS):
        for key, default in expected.items():
            want = mpf(default)
            got = params[key]
            assert abs(mpf(got) - want) <= abs(want) * mpf(2.0**-52), (
                f"{name}: default {key}={got!r}, textbook {default}")


_CHECK_POINTS = (-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_reference_derivatives(name):
    """The closed forms in DERIVATIVES agree with mpmath.diff of REFERENCES, with the default
    and the overridden parameters, except at kinks and C1 joins (central differences
    straddle them)."""
    f = _reference(name)
    d1, d2 = _derivatives(name)
    overrides = _param_overrides(name) if FORGE.get(name).params else []
    settings = [()] + [_as_key(d) for d in overrides]
    for params in settings:
        kw = dict(params)
        breaks = set(_kinks(name, params)) | set(_c1_joins(name, params))
        with mp.workdps(DPS):
            for x in map(mpf, (p for p in _CHECK_POINTS if p not in breaks)):
                pairs = ((d1(x, **kw), mpmath.diff(lambda t: f(t, **kw), x), "f'"),
                         (d2(x, **kw), mpmath.diff(lambda t: d1(t, **kw), x), "f''"))
                for got, want, label in pairs:
                    assert abs(got - want) <= mpf("1e-30") * (1 + abs(want)), (
                        f"{name} {kw}: closed-form {label}({x}) = {mpmath.nstr(got, 20)} but "
                        f"mpmath.diff gives {mpmath.nstr(want, 20)}")


# --------------------------------------------------------------------------------------
# Tests 1, 2: accuracy on the grid, float64 and float32
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_value_accuracy(name, dtype):
    _assert_accurate(measure(name, dtype, order=0))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_derivative_accuracy(name, dtype):
    _assert_accurate(measure(name, dtype, order=1))


# --------------------------------------------------------------------------------------
# Test 3: limits at +-inf, NaN propagation
# --------------------------------------------------------------------------------------

def _matches_limit(c, exact: mpf, dtype) -> bool:
    if np.isnan(c):
        return False
    if mpmath.isinf(exact):
        return bool(c == (np.inf if exact > 0 else -np.inf))
    if not np.isfinite(c):
        return False
    with mp.workdps(DPS):
        eps = mpf(float(np.finfo(dtype).eps))
        tiny = mpf(float(np.finfo(dtype).smallest_subnormal))
        return abs(mpf(float(c)) - exact) <= 4 * eps * abs(exact) + tiny


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_limits_at_infinity(name, dtype):
    with mp.workdps(DPS):
        f_lo, f_hi, d_lo, d_hi = _limits(name)()
    xs = np.array([-np.inf, np.inf], dtype=dtype)
    f = _expression(name, 0).eval(x=xs)
    d = _expression(name, 1).eval(x=xs)
    bad = []
    for label, got, want in (("f(-inf)", f[0], f_lo), ("f(+inf)", f[1], f_hi),
                             ("f'(-inf)", d[0], d_lo), ("f'(+inf)", d[1], d_hi)):
        if not _matches_limit(got, want, dtype):
            bad.append(f"{label} = {got!r}, exact {mpmath.nstr(want, 20)}")
    assert not bad, f"{name} [{np.dtype(dtype).name}]: " + "; ".join(bad)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_nan_propagates(name, dtype):
    xs = np.array([np.nan, 1.0, np.nan], dtype=dtype)
    f = _expression(name, 0).eval(x=xs)
    d = _expression(name, 1).eval(x=xs)
    assert np.isnan(f[0]) and np.isnan(f[2]), f"{name}: f(nan) = {f[0]!r} (want nan)"
    assert np.isnan(d[0]) and np.isnan(d[2]), f"{name}: f'(nan) = {d[0]!r} (want nan)"
    assert not np.isnan(f[1]) and not np.isnan(d[1]), f"{name}: nan leaked to a neighbour"


# --------------------------------------------------------------------------------------
# Test 4: no floating-point error anywhere
# --------------------------------------------------------------------------------------

def _hostile_inputs(dtype) -> np.ndarray:
    """The grid, +-inf, nan, +-1e300, +-5e-324 (float32: inf and 0), and per dtype
    +-max/4, +-smallest subnormal and +-smallest normal. max/4 keeps the exact image finite
    for the entries with |f(x)| <= 1.06|x| (at max itself selu's exact value overflows);
    exponential's exact image overflows already at 1e4 (float64 beyond 709.78): its kernel
    must still return inf without raising, as DESIGN.md §5 asks of every kernel."""
    fi = np.finfo(dtype)
    specials = [np.inf, np.nan, 1e300, 5e-324, float(fi.max) / 4, float(fi.smallest_subnormal),
                float(fi.tiny)]
    raw = np.array(specials + [-v for v in specials], dtype=np.float64)
    with np.errstate(all="ignore"):
        raw = raw.astype(dtype)
    return np.concatenate([GRIDS[("main", np.dtype(dtype).name)], raw]).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_no_floating_point_errors(name, dtype):
    xs = _hostile_inputs(dtype)
    problems = []
    for order in (0, 1):
        expr = _expression(name, order)
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
                warnings.simplefilter("error")
                expr.eval(x=xs)
        except (FloatingPointError, Warning) as exc:
            culprits = []
            for v in xs:
                try:
                    with np.errstate(over="raise", invalid="raise", divide="raise"), \
                            warnings.catch_warnings():
                        warnings.simplefilter("error")
                        expr.eval(x=np.array([v], dtype=dtype))
                except (FloatingPointError, Warning) as one:
                    culprits.append(f"{v!r} ({one})")
            label = "f'" if order else "f"
            problems.append(f"{label}: {exc!s}; "
                            f"raised at x = {', '.join(culprits[:8]) or '(only in the full array)'}")
    if problems:
        pytest.fail(f"{name} [{np.dtype(dtype).name}] raised under np.errstate(over/invalid/divide="
                    f"'raise'):\n  " + "\n  ".join(problems), pytrace=False)


# --------------------------------------------------------------------------------------
# Test 5: derivative conventions at kinks and at 0
# --------------------------------------------------------------------------------------

# (name, params, expected f'(at), at). Expected values are PyTorch autograd's (reference
# §4), except hard_sigmoid's interior slope: exactly 1/6, not torch's float32(1/6).
_KINK_TABLE = [
    ("relu", {}, "0", 0),
    ("leaky_relu", {}, "0.01", 0),
    ("leaky_relu", {"alpha": 0.2}, "0.2", 0),
    ("elu", {}, "1", 0),
    ("elu", {"alpha": 1.0}, "1", 0),
    ("elu", {"alpha": 0.5}, "0.5", 0),
    ("elu", {"alpha": 2.0}, "2", 0),
    ("selu", {}, "lambda*alpha", 0),
    ("gelu", {}, "0.5", 0),
    ("gelu_tanh", {}, "0.5", 0),
    ("swish", {}, "0.5", 0),
    ("swish", {"beta": 1.0}, "0.5", 0),
    ("sigmoid", {}, "0.25", 0),
    ("softplus", {}, "0.5", 0),
    ("tanh", {}, "1", 0),
    ("softsign", {}, "1", 0),
    ("linear", {}, "1", 0),
    ("relu6", {}, "0", 0),
    ("relu6", {}, "0", 6),
    ("prelu", {}, "0.25", 0),
    ("prelu", {"alpha": 0.5}, "0.5", 0),
    # (0.125 + 0.3333333333333333)/2 = 0.22916666666666665 (decimal), whose double is
    # 0.22916666666666666 = double(11/48), torch's measured value
    ("rrelu", {}, "0.22916666666666666", 0),
    ("rrelu", {"lower": 0.25, "upper": 0.5}, "0.375", 0),
    ("threshold", {}, "0", 0),
    ("threshold", {"threshold": 1.0, "value": -5.0}, "0", 1),
    ("celu", {}, "1", 0),
    ("celu", {"alpha": 0.5}, "1", 0),
    ("celu", {"alpha": 2.0}, "1", 0),
    ("quick_gelu", {}, "0.5", 0),
    ("log_sigmoid", {}, "0.5", 0),
    ("hard_sigmoid", {}, "0", -3),
    ("hard_sigmoid", {}, "0", 3),
    ("hard_sigmoid", {}, "1/6", 0),
    ("hard_sigmoid", {}, "1/6", 1.5),
    ("hard_sigmoid", {}, "1/6", -2.5),
    ("sparse_sigmoid", {}, "0", -1),
    ("sparse_sigmoid", {}, "0", 1),
    ("sparse_sigmoid", {}, "0.5", 0),
    ("hard_tanh", {}, "0", -1),
    ("hard_tanh", {}, "0", 1),
    ("hard_tanh", {}, "1", 0),
    ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}, "0", -2),
    ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}, "0", 0.5),
    ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}, "1", 0),
    ("tanh_shrink", {}, "0", 0),
    ("hard_shrink", {}, "0", -0.5),
    ("hard_shrink", {}, "0", 0.5),
    ("hard_shrink", {}, "0", 0),
    ("hard_shrink", {"lambd": 1.0}, "0", -1),
    ("hard_shrink", {"lambd": 1.0}, "0", 1),
    ("soft_shrink", {}, "0", -0.5),
    ("soft_shrink", {}, "0", 0.5),
    ("soft_shrink", {}, "0", 0),
    ("soft_shrink", {"lambd": 1.0}, "0", -1),
    ("soft_shrink", {"lambd": 1.0}, "0", 1),
    ("sparse_plus", {}, "0", -1),
    ("sparse_plus", {}, "1", 1),
    ("sparse_plus", {}, "0.5", 0),
    ("squareplus", {}, "0.5", 0),
    ("squareplus", {"b": 1.0}, "0.5", 0),
    ("hard_swish", {}, "0", -3),
    ("hard_swish", {}, "0.5", 0),
    ("hard_swish", {}, "1", 3),
    ("mish", {}, "0.6", 0),
    ("hard_mish", {}, "-1", -2),
    ("hard_mish", {}, "1", 0),
    ("exponential", {}, "1", 0),
]


def _k(name, params, expected, at):
    where = "" if at == 0 else f"@{at}"
    return pytest.param(name, params, expected, at,
                        id=f"{name}" + "".join(f"-{k}={v}" for k, v in params.items()) + where)


# Entries not (yet) in the catalog are not collected.
KINK_CASES = [_k(*case) for case in _KINK_TABLE if case[0] in NAMES]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "params", "expected", "at"), KINK_CASES)
def test_kink_derivatives(name, params, expected, at, dtype):
    """f'(at) follows PyTorch autograd (reference/activations.md §4); at 0 also f'(-0.0)."""
    with mp.workdps(DPS):
        want = SELU_LAMBDA * SELU_ALPHA if expected == "lambda*alpha" else mpf(expected)
    grad = _expression(name, 1)
    points = [at, -0.0] if at == 0 else [at]
    got = list(grad.eval(x=np.array(points, dtype=dtype), **params))
    if dtype is np.float64:
        got.append(grad.eval(x=float(at), **params))  # Python float path
    ulp = _spacing(want, dtype)
    for g in got:
        ok = (g == 0) if want == 0 else abs(float(g) - float(want)) <= 2 * ulp
        assert ok, (f"{name}'({at}) with {params} [{np.dtype(dtype).name}] = {g!r}, expected "
                    f"{mpmath.nstr(want, 20)} (within 2 ulp)")


# --------------------------------------------------------------------------------------
# Test 6: scalar and integer inputs
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_scalar_and_integer_inputs(name):
    ints = np.array([-3, -1, 0, 1, 2, 7], dtype=np.int64)
    for order in (0, 1):
        expr = _expression(name, order)
        s = expr.eval(x=1.0)
        assert type(s) is float, f"{name} order {order}: eval(x=1.0) returned {type(s).__name__}"
        assert s == expr.eval(x=np.array([1.0]))[0]
        out = expr.eval(x=ints)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64, (
            f"{name} order {order}: int64 input gave {type(out).__name__} {getattr(out, 'dtype', '')}")
        np.testing.assert_array_equal(out, expr.eval(x=ints.astype(np.float64)))


# --------------------------------------------------------------------------------------
# Test 7: non-default parameters
# --------------------------------------------------------------------------------------

# Non-default parameter values, as exact doubles; each parameter of an entry appears in at
# least one setting (test_reference_exists), and a setting may change several at once.
PARAM_OVERRIDES: dict[str, list[dict[str, float]]] = {
    "leaky_relu": [{"alpha": 0.5}, {"alpha": 2.0}],
    "elu": [{"alpha": 0.5}, {"alpha": 2.0}],
    "softplus": [{"beta": 0.5}, {"beta": 2.0}],
    "swish": [{"beta": 0.5}, {"beta": 2.0}],
    "prelu": [{"alpha": 0.5}, {"alpha": 2.0}, {"alpha": 0.0}],  # 0: Keras's initial slope
    "rrelu": [{"lower": 0.25}, {"upper": 0.5}, {"lower": 0.0625, "upper": 0.75}],
    "threshold": [{"threshold": 1.0, "value": -5.0}, {"threshold": -0.5, "value": 2.0},
                  {"threshold": 0.5}, {"value": 2.0}],
    "celu": [{"alpha": 0.5}, {"alpha": 2.0}],
    "hard_tanh": [{"min_val": -2.0, "max_val": 0.5}, {"min_val": -0.5}, {"max_val": 2.0}],
    "hard_shrink": [{"lambd": 1.0}, {"lambd": 0.25}],
    "soft_shrink": [{"lambd": 1.0}, {"lambd": 0.25}],
    "squareplus": [{"b": 1.0}, {"b": 0.5}, {"b": 2.0}],
}


def _as_key(params: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(params.items()))


def _param_overrides(name: str) -> list[dict[str, float]]:
    keys = set(FORGE.get(name).params)
    if name not in PARAM_OVERRIDES:
        pytest.fail(f"add non-default values of {sorted(keys)} for {name} to PARAM_OVERRIDES "
                    f"in {__file__}", pytrace=False)
    settings = PARAM_OVERRIDES[name]
    used = set().union(*map(set, settings)) if settings else set()
    if used != keys:
        pytest.fail(f"PARAM_OVERRIDES[{name!r}] sets {sorted(used)}; the catalog's parameters are "
                    f"{sorted(keys)} (each must be overridden at least once)", pytrace=False)
    return settings


def _param_cases():
    for name in NAMES:
        if not FORGE.get(name).params:
            continue
        if name not in PARAM_OVERRIDES:  # fails with the message of _param_overrides
            yield pytest.param(name, None, id=f"{name}-MISSING")
            continue
        for setting in PARAM_OVERRIDES[name]:
            yield pytest.param(name, setting,
                               id=f"{name}-" + "-".join(f"{k}={v}" for k, v in setting.items()))


PARAM_CASES = list(_param_cases())


@pytest.mark.parametrize("order", (0, 1), ids=("value", "derivative"))
@pytest.mark.parametrize(("name", "setting"), PARAM_CASES)
def test_parameter_override_accuracy(name, setting, order):
    _param_overrides(name)  # fails with a clear message if the table lacks the entry
    _assert_accurate(measure(name, np.float64, order=order, grid="param", params=_as_key(setting)))
