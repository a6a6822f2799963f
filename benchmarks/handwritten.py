"""Hand-written NumPy references for the array benchmarks of ``benchmarks/run.py``.

What an expert would write for one activation function or loss in a NumPy hot path, for
speed *and* stability: no overflow for any finite input, no cancellation where a stable
form is as cheap, as few passes over memory as possible (temporaries are reused in place
with ``out=``), dtype preserved (float32 in, float32 out; constants are Python floats,
which NumPy treats as weak scalars).

Tables keyed by catalog name:

* :data:`VALUES` -- ``f(x, **params)`` for every elementwise activation;
* :data:`DERIVATIVES` -- ``f'(x, **params)``, the derivative in ``x``, with the kinks of
  DESIGN.md section 5 (PyTorch autograd: ``relu'(0) = 0``, ``elu'(0) = alpha``, ...);
* :data:`VECTORS` -- ``f(x, axis)`` for the vector-valued entries (max-shifted);
* :data:`LOSS_VALUES` -- ``f(y_pred, y_true[, var], **params)`` for every elementwise loss,
  pointwise (reduction ``"none"``), for every input of the loss's domain (soft labels in
  [0, 1] too), with the catalog's conventions (logarithms clamped at -100 in
  binary_crossentropy, as PyTorch does; ``0*log(0) = 0`` in kl_div);
* :data:`LOSS_DERIVATIVES` -- the derivative in ``y_pred``, with the catalog's conventions
  at kinks and clamps (``mae'(0) = 0``, ``quantile'`` is ``-tau`` at ``y_pred = y_true``,
  0 where a clamp is active);
* :data:`CLASS_LOSSES`, :data:`CLASS_GRADIENTS` -- ``f(logits, target, axis)`` for the
  losses over a class axis (cross_entropy: mean NLL of the max-shifted log-softmax, and its
  per-sample gradient in the logits).

:func:`elementwise`, :func:`derivatives`, :func:`loss_values` and :func:`loss_derivatives`
bind the catalog's default parameters and return the dicts ``name -> function`` the
benchmark times.

Conventions, so that the comparison is against the *best* hand-written code for the
catalog entry with its default parameters:

* parameters are function arguments, but a multiplication or division by a parameter
  equal to 1 is skipped (``softplus`` with ``beta = 1`` is ``logaddexp``-like, not
  ``softplus(1*x)/1``), as an expert writing that one function would; a parameter that
  selects a formula (poisson_nll's ``log_input``) selects it in Python;
* where a loss's terms cancel for some inputs whatever the formula (``log(v) + d**2/v`` in
  gaussian_nll, ``y*log(y) - y*y_pred`` in kl_div), the reference keeps the catalog's
  terms, so that both sides round alike and the agreement check tests the code, not the
  conditioning;
* the references do not replicate mathforge's extra guarantees for *special* inputs (exact
  limits at ``+-inf``, NaN-in-NaN-out for the constant branches of ``relu'``, no
  floating-point flags); for every finite input they return the right value (no NaN, no
  spurious 0 or inf), but an intermediate may overflow harmlessly and set NumPy's overflow
  flag (``x*x`` in gelu' at 1e155 makes ``exp(-inf) = 0``; mathforge runs such kernels
  under ``np.errstate``);
* where several stable forms exist, the fastest one measured on this machine (NumPy 2.4,
  1e6 float64) was kept; the alternatives are named in :data:`NOTES`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.special

Array = np.ndarray

#: Why a reference looks the way it does (rendered under the tables of ``run.py``).
NOTES: dict[str, str] = {
    "sigmoid": ("where-based stable form `where(x >= 0, 1, e)/(1 + e)`, `e = exp(-|x|)`; faster than "
                "`exp(-logaddexp(0, -x))`. `scipy.special.expit` is ~15 % faster still but returns 0 "
                "below x = -709 (the true value is a subnormal down to -745), so it is not used"),
    "softplus": ("`max(x, 0) + log1p(exp(-|x|))` in place: faster here than `np.logaddexp(x, 0)` "
                 "(same stability)"),
    "log_sigmoid": ("`min(x, 0) - log1p(exp(-|x|))` in place: faster here than "
                    "`scipy.special.log_expit` and `-np.logaddexp(0, -x)`"),
    "tanh_shrink": ("`x - tanh(x)`, with its Taylor series (11 terms) on the |x| < 0.25 subset, "
                    "where the difference cancels (8e-6 is in the input: `x - tanh(x)` alone is off "
                    "by 100 %)"),
    "mish": ("`x*n/(n + 2)` with `n = e*(e + 2)`, `e = exp(min(x, 30))`: one exp instead of "
             "`tanh(logaddexp(x, 0))`, 2x faster, overflow-free"),
    "hard_sigmoid": ("`clip(x + 3, 0, 6)/6` (PyTorch's definition): `x + 3` is exact near -3, so "
                     "there is no cancellation"),
    "linear": ("the identity (returns `x` itself, as mathforge's `eval` does): the ratio measures "
               "mathforge's fixed per-call overhead"),
    "gelu": "`x*scipy.special.ndtr(x)`",
    "mae": "the derivative `np.sign(d)` into a new array: NumPy's in-place `np.sign(d, out=d)` is 3× slower here",
    "huber": ("`q*(|d| - q/2)` with `q = min(|d|, delta)`: both pieces without a `where` (and rounded as the "
              "catalog's `d**2/2` and `delta*(|d| - delta/2)`); the derivative is `clip(d, -delta, delta)`"),
    "smooth_l1": "huber's form divided by beta (skipped for beta = 1); the derivative is `clip(d, -beta, beta)/beta`",
    "log_cosh": ("`log1p(u**2/(2(1 + u)))` with `u = expm1(|d|)` (`cosh(d) - 1` without cancellation near 0) "
                 "for |d| <= 20, and `|d| - log 2` beyond (the rest is below 4e-18): one expm1 and one log1p, "
                 "where `|d| - log 2 + log1p(exp(-2|d|))` alone loses all digits near 0"),
    "binary_crossentropy": ("`-(y*max(log p, -100) + (1 - y)*max(log1p(-p), -100))` (PyTorch's clamp); the "
                            "derivative is `(p - y)/(p*(1 - p))`, one division and no cancellation near p = y, "
                            "with the clamped edges (p < exp(-100), p = 1) set on their few elements"),
    "bce_with_logits": ("`x*([x > 0] - y) + log1p(exp(-|x|))`: two terms >= 0 for any target in [0, 1]; the "
                        "derivative is `[signbit(x) = 0] - y - copysign(sigmoid(-|x|), x)` (exact -sigmoid(-x) for y = 1, "
                        "where `sigmoid(x) - y` loses digits for large x)"),
    "hinge": "`max(1 - y*s, 0)`; the derivative `-y` where `y*s <= 1` (the catalog's branch at the margin)",
    "squared_hinge": "`max(1 - y*s, 0)**2`; the derivative `-2*y*max(1 - y*s, 0)`",
    "soft_margin": ("`log1p(exp(-|z|)) - min(z, 0)` with `z = y*s`; the derivative `-y*sigmoid(-y*s)` as one "
                    "subnormal-exact product"),
    "poisson_nll": "`exp(x) - y*x` (log_input = 1, chosen in Python); the derivative `exp(x) - y`",
    "gaussian_nll": "`(d**2/v + log v)/2` with `v = max(var, eps)` (the catalog's two terms); the derivative `d/v`",
    "kl_div": ("`y*log(y) - y*y_pred` with `0*log(0) = 0` fixed on the zero targets (faster here than "
               "`scipy.special.xlogy`); the derivative `-y`"),
    "quantile": "`max(tau*u, (tau - 1)*u)` with `u = y - y_pred` (0 < tau < 1); the derivative `[y_pred > y] - tau`",
    "binary_focal": ("the two clamped logarithms, `np.power` for gamma (NumPy has a fast path for 2.0); the "
                     "derivative factored per class, `A*(1-p)**(gamma-1)*(gamma*L1 - (1-p)/p) + "
                     "B*p**(gamma-1)*(p/(1-p) - gamma*L2)`, each bracket a sum of terms of one sign"),
}


# --- building blocks ------------------------------------------------------------------------


def _one(x: Array, value: float) -> Any:
    """``value`` as a scalar of ``x``'s floating dtype (for ``np.where`` with two scalars)."""
    return x.dtype.type(value) if x.dtype.kind == "f" else np.float64(value)


def _step(mask: Array, x: Array) -> Array:
    """``mask`` as 0/1 in ``x``'s dtype."""
    return mask.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def _exp_minus_abs(z: Array) -> Array:
    """A new array ``exp(-|z|)`` (never overflows)."""
    e = np.abs(z)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def _sigmoid(z: Array) -> Array:
    """Stable logistic sigmoid, subnormal-exact in the left tail."""
    e = _exp_minus_abs(z)
    numerator = np.where(z >= 0, _one(e, 1.0), e)
    e += 1.0
    return np.divide(numerator, e, out=numerator)


def _times_sigmoid(a: Array, z: Array) -> Array:
    """``a * sigmoid(z)`` in one pass less than the product of the two."""
    e = _exp_minus_abs(z)
    numerator = np.where(z >= 0, a, e * a)
    e += 1.0
    return np.divide(numerator, e, out=numerator)


def _sigmoid_derivative(z: Array) -> Array:
    """``sigmoid(z) * sigmoid(-z) = e/(1 + e)**2`` with ``e = exp(-|z|)``: symmetric and stable."""
    e = _exp_minus_abs(z)
    d = e + 1.0
    np.multiply(d, d, out=d)
    return np.divide(e, d, out=e)


def _scaled(y: Array, factor: float) -> Array:
    """``y *= factor`` in place, skipped when the factor is 1."""
    if factor != 1:
        y *= factor
    return y


def _swish_derivative(x: Array, z: Array, dz: Array | float) -> Array:
    """``d/dx x*sigmoid(z(x)) = s*(1 + x*z'*(1 - s))``; ``1 - s`` only multiplies a small term."""
    s = _sigmoid(z)
    t = 1.0 - s
    t *= x
    if isinstance(dz, np.ndarray):
        t *= dz
    else:
        _scaled(t, dz)
    t += 1.0
    return np.multiply(t, s, out=t)


# --- elementwise values ---------------------------------------------------------------------


def relu(x: Array) -> Array:
    return np.maximum(x, 0)


def leaky_relu(x: Array, alpha: float) -> Array:
    y = x * alpha
    if 0 <= alpha <= 1:  # max(x, alpha*x) is the whole function: one pass less than where
        return np.maximum(x, y, out=y)
    return np.where(x > 0, x, y)


def prelu(x: Array, alpha: float) -> Array:
    return leaky_relu(x, alpha)


def rrelu(x: Array, lower: float, upper: float) -> Array:
    return leaky_relu(x, (lower + upper) / 2)  # evaluation mode: the mean slope


def threshold(x: Array, threshold: float, value: float) -> Array:  # noqa: A002 - the catalog's names
    return np.where(x > threshold, x, value)


def relu6(x: Array) -> Array:
    return np.clip(x, 0, 6)


def hard_tanh(x: Array, min_val: float, max_val: float) -> Array:
    return np.clip(x, min_val, max_val)


def hard_sigmoid(x: Array) -> Array:
    t = x + 3.0  # exact near -3: no cancellation
    np.clip(t, 0, 6, out=t)
    t /= 6
    return t


def hard_swish(x: Array) -> Array:
    t = x + 3.0
    np.clip(t, 0, 6, out=t)
    t *= x
    t /= 6
    return t


def hard_mish(x: Array) -> Array:
    t = x + 2.0
    np.clip(t, 0, 2, out=t)
    t *= x
    t *= 0.5
    return t


def sparse_sigmoid(x: Array) -> Array:
    t = x * 0.5
    t += 0.5
    return np.clip(t, 0, 1, out=t)


def sparse_plus(x: Array) -> Array:
    # (x + 1)**2/4 >= x everywhere, with equality at 1: the max picks the linear piece for x >= 1
    u = np.clip(x, -1, 1)
    u += 1.0
    u *= u
    u *= 0.25
    return np.maximum(u, x, out=u)


def soft_shrink(x: Array, lambd: float) -> Array:
    c = np.clip(x, -lambd, lambd)
    return np.subtract(x, c, out=c)


def hard_shrink(x: Array, lambd: float) -> Array:
    return np.where(np.abs(x) > lambd, x, 0)


def linear(x: Array) -> Array:
    return x


def exponential(x: Array) -> Array:
    return np.exp(x)


def elu(x: Array, alpha: float) -> Array:
    m = np.minimum(x, 0)  # the exp branch on its own domain: never overflows
    np.expm1(m, out=m)
    _scaled(m, alpha)
    m += np.maximum(x, 0)  # exactly one of the two terms is non-zero
    return m


def celu(x: Array, alpha: float) -> Array:
    if alpha == 1:
        return elu(x, 1.0)
    m = np.minimum(x, 0)
    m /= alpha
    np.expm1(m, out=m)
    m *= alpha
    m += np.maximum(x, 0)
    return m


SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def selu(x: Array) -> Array:
    m = np.minimum(x, 0)
    np.expm1(m, out=m)
    m *= SELU_SCALE * SELU_ALPHA
    p = np.maximum(x, 0)
    p *= SELU_SCALE
    m += p
    return m


def sigmoid(x: Array) -> Array:
    return _sigmoid(x)


def log_sigmoid(x: Array) -> Array:
    e = _exp_minus_abs(x)
    np.log1p(e, out=e)
    return np.subtract(np.minimum(x, 0), e, out=e)


def softplus(x: Array, beta: float) -> Array:
    z = x if beta == 1 else x * beta
    e = _exp_minus_abs(z)
    np.log1p(e, out=e)
    e += np.maximum(z, 0)
    if beta != 1:
        e /= beta
    return e


def swish(x: Array, beta: float) -> Array:
    return _times_sigmoid(x, x if beta == 1 else x * beta)


def quick_gelu(x: Array) -> Array:
    return _times_sigmoid(x, x * 1.702)


#: ``2*sqrt(2/pi)``: gelu_tanh is ``x*sigmoid(2u)`` with ``u = sqrt(2/pi)*(x + 0.044715 x**3)``.
_GELU_TANH_C = 2 * math.sqrt(2 / math.pi)
_GELU_TANH_K = 0.044715


def _gelu_tanh_argument(x: Array) -> Array:
    z = x * x
    z *= _GELU_TANH_K
    z += 1.0
    z *= x
    z *= _GELU_TANH_C
    return z


def gelu_tanh(x: Array) -> Array:
    # 0.5*x*(1 + tanh(u)) cancels for x < 0 (0 at x = -8, the true value is -3e-21)
    return _times_sigmoid(x, _gelu_tanh_argument(x))


def gelu(x: Array) -> Array:
    y = scipy.special.ndtr(x)
    y *= x
    return y


def tanh(x: Array) -> Array:
    return np.tanh(x)


def softsign(x: Array) -> Array:
    a = np.abs(x)
    a += 1.0
    return np.divide(x, a, out=a)


def squareplus(x: Array, b: float) -> Array:
    return _squareplus_and_root(x, b)[0]


def _squareplus_and_root(x: Array, b: float) -> tuple[Array, Array]:
    """``(x + sqrt(x**2 + b))/2`` without cancellation for ``x < 0`` or overflow, and the root."""
    h = np.hypot(x, math.sqrt(b))  # sqrt(x**2 + b) without overflowing x**2
    s = np.abs(x)
    s += h  # |x| + h: no cancellation; for x < 0 the value is b/(2(|x| + h))
    y = np.where(x < 0, b / s, s)
    y *= 0.5
    return y, h


def mish(x: Array) -> Array:
    # tanh(softplus(x)) = n/(n + 2) with n = e*(e + 2), e = exp(x); it is 1.0 beyond x = 30
    e = np.minimum(x, 30.0)
    np.exp(e, out=e)
    n = e + 2.0
    n *= e
    e = n + 2.0
    np.divide(n, e, out=n)
    n *= x
    return n


#: Taylor coefficients of ``x - tanh(x)`` in powers of ``x**2`` from ``x**3``:
#: ``-(2**(2k)) (2**(2k) - 1) B_2k / (2k)!`` for k = 2..12.
_TANH_SHRINK_TAYLOR = (
    0.3333333333333333, -0.13333333333333333, 0.05396825396825397, -0.021869488536155203,
    0.008863235529902197, -0.003592128036572481, 0.0014558343870513183, -0.000590027440945586,
    0.00023912911424355248, -9.691537956929451e-05, 3.927832388331683e-05,
)
_TANH_SHRINK_SERIES_BOUND = 0.25


def tanh_shrink(x: Array) -> Array:
    y = np.tanh(x)
    np.subtract(x, y, out=y)
    small = np.abs(x) < _TANH_SHRINK_SERIES_BOUND
    if small.any():  # only there x - tanh(x) cancels; the series is summed on that subset
        t = x[small]
        t2 = t * t
        total = np.full_like(t2, _TANH_SHRINK_TAYLOR[-1])
        for c in _TANH_SHRINK_TAYLOR[-2::-1]:
            total *= t2
            total += c
        total *= t2
        total *= t
        y[small] = total
    return y


VALUES: dict[str, Callable[..., Array]] = {
    "celu": celu, "elu": elu, "exponential": exponential, "gelu": gelu, "gelu_tanh": gelu_tanh,
    "hard_mish": hard_mish, "hard_shrink": hard_shrink, "hard_sigmoid": hard_sigmoid,
    "hard_swish": hard_swish, "hard_tanh": hard_tanh, "leaky_relu": leaky_relu, "linear": linear,
    "log_sigmoid": log_sigmoid, "mish": mish, "prelu": prelu, "quick_gelu": quick_gelu, "relu": relu,
    "relu6": relu6, "rrelu": rrelu, "selu": selu, "sigmoid": sigmoid, "soft_shrink": soft_shrink,
    "softplus": softplus, "softsign": softsign, "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid, "squareplus": squareplus, "swish": swish, "tanh": tanh,
    "tanh_shrink": tanh_shrink, "threshold": threshold,
}


# --- elementwise derivatives ----------------------------------------------------------------


def d_relu(x: Array) -> Array:
    return _step(x > 0, x)


def d_leaky_relu(x: Array, alpha: float) -> Array:
    return np.where(x > 0, _one(x, 1.0), _one(x, alpha))


def d_prelu(x: Array, alpha: float) -> Array:
    return d_leaky_relu(x, alpha)


def d_rrelu(x: Array, lower: float, upper: float) -> Array:
    return d_leaky_relu(x, (lower + upper) / 2)


def d_threshold(x: Array, threshold: float, value: float) -> Array:  # noqa: A002, ARG001
    return _step(x > threshold, x)


def d_relu6(x: Array) -> Array:
    return _step((x > 0) & (x < 6), x)


def d_hard_tanh(x: Array, min_val: float, max_val: float) -> Array:
    if min_val == -max_val:
        return _step(np.abs(x) < max_val, x)
    return _step((x > min_val) & (x < max_val), x)


def d_hard_sigmoid(x: Array) -> Array:
    return np.where(np.abs(x) < 3, _one(x, 1 / 6), _one(x, 0.0))


def d_hard_swish(x: Array) -> Array:
    d = x * 2.0
    d += 3.0  # (2x + 3)/6: exact near the zero at -1.5
    d /= 6
    np.copyto(d, 0.0, where=x <= -3)
    np.copyto(d, 1.0, where=x >= 3)
    return d


def d_hard_mish(x: Array) -> Array:
    d = x + 1.0
    np.minimum(d, 1.0, out=d)
    np.copyto(d, 0.0, where=x < -2)
    return d


def d_sparse_sigmoid(x: Array) -> Array:
    return np.where(np.abs(x) < 1, _one(x, 0.5), _one(x, 0.0))


def d_sparse_plus(x: Array) -> Array:
    return sparse_sigmoid(x)  # (x + 1)/2 clipped to [0, 1]: continuous


def d_soft_shrink(x: Array, lambd: float) -> Array:
    return _step(np.abs(x) > lambd, x)


def d_hard_shrink(x: Array, lambd: float) -> Array:
    return _step(np.abs(x) > lambd, x)


def d_linear(x: Array) -> Array:
    return np.ones_like(x, dtype=x.dtype if x.dtype.kind == "f" else np.float64)


def d_exponential(x: Array) -> Array:
    return np.exp(x)


def d_elu(x: Array, alpha: float) -> Array:
    d = np.minimum(x, 0)
    np.exp(d, out=d)  # exp(0) = 1 on the linear branch
    if alpha != 1:
        d *= alpha
        np.copyto(d, 1.0, where=x > 0)
    return d


def d_celu(x: Array, alpha: float) -> Array:
    d = np.minimum(x, 0)
    if alpha != 1:
        d /= alpha
    return np.exp(d, out=d)  # exp(0) = 1 on the linear branch, whatever alpha


def d_selu(x: Array) -> Array:
    d = np.minimum(x, 0)
    np.exp(d, out=d)
    d *= SELU_SCALE * SELU_ALPHA
    np.copyto(d, SELU_SCALE, where=x > 0)
    return d


def d_sigmoid(x: Array) -> Array:
    return _sigmoid_derivative(x)


def d_log_sigmoid(x: Array) -> Array:
    return _sigmoid(-x)


def d_softplus(x: Array, beta: float) -> Array:
    return _sigmoid(x if beta == 1 else x * beta)


def d_swish(x: Array, beta: float) -> Array:
    return _swish_derivative(x, x if beta == 1 else x * beta, beta)


def d_quick_gelu(x: Array) -> Array:
    return _swish_derivative(x, x * 1.702, 1.702)


def d_gelu_tanh(x: Array) -> Array:
    # beyond |x| = 100 the derivative is exactly 0 or 1 in float64; clipping there keeps x*z'(x)
    # finite (x**3 overflows at 5.6e102, and inf*0 would be NaN)
    x = np.clip(x, -100.0, 100.0)
    dz = x * x
    dz *= 3 * _GELU_TANH_K
    dz += 1.0
    dz *= _GELU_TANH_C
    return _swish_derivative(x, _gelu_tanh_argument(x), dz)


#: ``1/sqrt(2 pi)``.
_INV_SQRT_2PI = 0.3989422804014327


def d_gelu(x: Array) -> Array:
    # Phi(x) + x*phi(x); x*x overflowing to inf gives exp(-inf) = 0, the right answer
    p = x * x
    p *= -0.5
    np.exp(p, out=p)
    p *= x
    p *= _INV_SQRT_2PI
    p += scipy.special.ndtr(x)
    return p


def d_tanh(x: Array) -> Array:
    # sech(x)**2 = 4e/(1 + e)**2 with e = exp(-2|x|); 1 - tanh(x)**2 loses 6 digits at x = 8
    e = np.abs(x)
    e *= -2.0
    np.exp(e, out=e)
    d = e + 1.0
    np.multiply(d, d, out=d)
    e *= 4.0
    return np.divide(e, d, out=e)


def d_softsign(x: Array) -> Array:
    a = np.abs(x)
    a += 1.0
    np.multiply(a, a, out=a)
    return np.reciprocal(a, out=a)


def d_squareplus(x: Array, b: float) -> Array:
    y, h = _squareplus_and_root(x, b)  # (1 + x/h)/2 = y/h, without 1 + x/h cancelling for x < 0
    return np.divide(y, h, out=y)


def d_mish(x: Array) -> Array:
    # tanh(sp) + x*sech(sp)**2*sigmoid(x) = n/(n + 2) + 4 x e (e + 1)/(n + 2)**2, n = e(e + 2);
    # beyond x = 30 it is 1.0, which min(x, 30) gives (x is clamped in the small term too)
    xc = np.minimum(x, 30.0)
    e = np.exp(xc)
    n = e + 2.0
    n *= e
    q = n + 2.0
    term = e + 1.0
    term *= e
    term *= xc
    term *= 4.0
    np.divide(n, q, out=n)
    np.multiply(q, q, out=q)
    np.divide(term, q, out=term)
    term += n
    return term


def d_tanh_shrink(x: Array) -> Array:
    t = np.tanh(x)
    return np.multiply(t, t, out=t)


DERIVATIVES: dict[str, Callable[..., Array]] = {
    "celu": d_celu, "elu": d_elu, "exponential": d_exponential, "gelu": d_gelu,
    "gelu_tanh": d_gelu_tanh, "hard_mish": d_hard_mish, "hard_shrink": d_hard_shrink,
    "hard_sigmoid": d_hard_sigmoid, "hard_swish": d_hard_swish, "hard_tanh": d_hard_tanh,
    "leaky_relu": d_leaky_relu, "linear": d_linear, "log_sigmoid": d_log_sigmoid, "mish": d_mish,
    "prelu": d_prelu, "quick_gelu": d_quick_gelu, "relu": d_relu, "relu6": d_relu6, "rrelu": d_rrelu,
    "selu": d_selu, "sigmoid": d_sigmoid, "soft_shrink": d_soft_shrink, "softplus": d_softplus,
    "softsign": d_softsign, "sparse_plus": d_sparse_plus, "sparse_sigmoid": d_sparse_sigmoid,
    "squareplus": d_squareplus, "swish": d_swish, "tanh": d_tanh, "tanh_shrink": d_tanh_shrink,
    "threshold": d_threshold,
}


# --- vector-valued entries ------------------------------------------------------------------


def v_softmax(x: Array, axis: int = -1) -> Array:
    e = x - np.max(x, axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def v_log_softmax(x: Array, axis: int = -1) -> Array:
    s = x - np.max(x, axis=axis, keepdims=True)
    s -= np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return s


def v_softmin(x: Array, axis: int = -1) -> Array:
    e = np.min(x, axis=axis, keepdims=True) - x  # softmax(-x), shifted by max(-x) = -min(x)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def v_glu(x: Array, axis: int = -1) -> Array:
    a, b = np.split(x, 2, axis=axis)
    return _times_sigmoid(a, b)


VECTORS: dict[str, Callable[[Array, int], Array]] = {
    "softmax": v_softmax, "log_softmax": v_log_softmax, "softmin": v_softmin, "glu": v_glu,
}


# --- elementwise losses: values, pointwise -----------------------------------------------------


def mse(y_pred: Array, y_true: Array) -> Array:
    d = y_pred - y_true
    return np.multiply(d, d, out=d)


def mae(y_pred: Array, y_true: Array) -> Array:
    d = y_pred - y_true
    return np.abs(d, out=d)


def huber(y_pred: Array, y_true: Array, delta: float) -> Array:
    # q*(|d| - q/2), q = min(|d|, delta): d**2/2 inside, delta*(|d| - delta/2) outside, no where
    a = y_pred - y_true
    np.abs(a, out=a)
    q = np.minimum(a, delta)
    h = q * 0.5
    a -= h
    a *= q
    return a


def smooth_l1(y_pred: Array, y_true: Array, beta: float) -> Array:
    y = huber(y_pred, y_true, beta)  # smooth_l1 = huber(delta = beta)/beta
    if beta != 1:
        y /= beta
    return y


#: Beyond this |d|, ``log(cosh(d)) = |d| - log 2`` to double precision (the rest is below 4e-18).
_LOG_COSH_FAR = 20.0
_LN2 = math.log(2.0)


def log_cosh(y_pred: Array, y_true: Array) -> Array:
    a = y_pred - y_true
    np.abs(a, out=a)
    u = np.minimum(a, _LOG_COSH_FAR)
    np.expm1(u, out=u)  # cosh(a) - 1 = u**2/(2(1 + u)): no cancellation near 0
    t = u * u
    u += 1.0
    u *= 2.0
    t /= u
    np.log1p(t, out=t)
    far = a > _LOG_COSH_FAR
    if far.any():
        t[far] = a[far] - _LN2
    return t


#: PyTorch's clamp of the logarithms in binary cross-entropy, and the probability below which it acts.
_BCE_LOG_FLOOR = -100.0
_BCE_P_FLOOR = math.exp(_BCE_LOG_FLOOR)


def binary_crossentropy(y_pred: Array, y_true: Array) -> Array:
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped at -100 like every log below exp(-100)
        a = np.log(y_pred)
        b = np.negative(y_pred)
        np.log1p(b, out=b)
    np.maximum(a, _BCE_LOG_FLOOR, out=a)
    a *= y_true
    np.maximum(b, _BCE_LOG_FLOOR, out=b)
    b *= 1.0 - y_true
    a += b  # two terms <= 0: no cancellation
    return np.negative(a, out=a)


def bce_with_logits(y_pred: Array, y_true: Array) -> Array:
    # y*softplus(-x) + (1 - y)*softplus(x) = x*([x > 0] - y) + log1p(exp(-|x|)): two terms >= 0
    t = np.subtract(y_pred > 0, y_true)
    t *= y_pred
    e = _exp_minus_abs(y_pred)
    np.log1p(e, out=e)
    t += e
    return t


def hinge(y_pred: Array, y_true: Array) -> Array:
    t = y_true * y_pred
    np.subtract(1.0, t, out=t)
    return np.maximum(t, 0.0, out=t)


def squared_hinge(y_pred: Array, y_true: Array) -> Array:
    t = hinge(y_pred, y_true)
    return np.multiply(t, t, out=t)


def soft_margin(y_pred: Array, y_true: Array) -> Array:
    # softplus(-z) = log1p(exp(-|z|)) - min(z, 0), z = y*s
    z = y_true * y_pred
    e = _exp_minus_abs(z)
    np.log1p(e, out=e)
    np.minimum(z, 0.0, out=z)
    return np.subtract(e, z, out=e)


def poisson_nll(y_pred: Array, y_true: Array, log_input: float, eps: float) -> Array:
    if log_input > 0:  # y_pred is the log-rate
        r = np.exp(y_pred)
        r -= y_true * y_pred
        return r
    t = y_pred + eps
    np.log(t, out=t)
    t *= y_true
    return np.subtract(y_pred, t, out=t)


def gaussian_nll(y_pred: Array, y_true: Array, var: Array, eps: float) -> Array:
    v = np.maximum(var, eps)
    d = y_pred - y_true
    d *= d
    d /= v
    np.log(v, out=v)
    d += v  # the catalog's two terms, which cancel for some inputs whatever the form
    d *= 0.5
    return d


def kl_div(y_pred: Array, y_true: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):  # 0*log(0) = nan, set to 0 below
        t = np.log(y_true)
        t *= y_true
    np.copyto(t, 0.0, where=y_true == 0)
    t -= y_true * y_pred
    return t


def quantile(y_pred: Array, y_true: Array, tau: float) -> Array:
    # tau*u for u = y - y_pred >= 0, (tau - 1)*u below: the larger of the two when 0 < tau < 1
    u = y_true - y_pred
    t = u * tau
    u *= tau - 1.0
    return np.maximum(t, u, out=t)


def _focal_logs(p: Array, eps: float) -> tuple[Array, Array]:
    """``log(max(p, eps))`` and ``log1p(-p)`` for ``p <= 1 - eps``, else ``log(eps)``."""
    l1 = np.maximum(p, eps)
    np.log(l1, out=l1)
    l2 = np.minimum(p, 1.0 - eps)
    np.negative(l2, out=l2)
    np.log1p(l2, out=l2)
    np.copyto(l2, math.log(eps), where=p > 1.0 - eps)  # log(eps) itself, not log1p(-(1 - eps))
    return l1, l2


def binary_focal(y_pred: Array, y_true: Array, gamma: float, alpha: float, eps: float) -> Array:
    l1, l2 = _focal_logs(y_pred, eps)
    q = 1.0 - y_pred
    np.power(q, gamma, out=q)
    l1 *= q
    l1 *= y_true
    l1 *= -alpha
    w = y_true - 1.0  # -(1 - y)
    w *= 1.0 - alpha
    l2 *= w
    l2 *= np.power(y_pred, gamma)
    l1 += l2  # two terms >= 0
    return l1


# --- elementwise losses: derivatives in y_pred ------------------------------------------------


def d_mse(y_pred: Array, y_true: Array) -> Array:
    d = y_pred - y_true
    d *= 2.0
    return d


def d_mae(y_pred: Array, y_true: Array) -> Array:
    return np.sign(y_pred - y_true)  # sign(0) = 0: PyTorch's l1'(0); in place, np.sign is 3x slower


def d_huber(y_pred: Array, y_true: Array, delta: float) -> Array:
    d = y_pred - y_true
    return np.clip(d, -delta, delta, out=d)


def d_smooth_l1(y_pred: Array, y_true: Array, beta: float) -> Array:
    d = d_huber(y_pred, y_true, beta)
    if beta != 1:
        d /= beta
    return d


def d_log_cosh(y_pred: Array, y_true: Array) -> Array:
    d = y_pred - y_true
    return np.tanh(d, out=d)


def d_binary_crossentropy(y_pred: Array, y_true: Array) -> Array:
    # (1 - y)/(1 - p) - y/p = (p - y)/(p*(1 - p)): one division, no cancellation near p = y
    q = 1.0 - y_pred
    den = y_pred * q
    g = y_pred - y_true
    with np.errstate(divide="ignore", invalid="ignore"):  # p = 0 or 1: set below
        g /= den
    low = y_pred < _BCE_P_FLOOR  # log p clamped: only the (1 - y)/(1 - p) term is left
    if low.any():
        g[low] = (1.0 - y_true[low]) / q[low]
    high = y_pred >= 1.0  # log(1 - p) clamped: only -y/p = -y is left
    if high.any():
        g[high] = -y_true[high]
    return g


def d_bce_with_logits(y_pred: Array, y_true: Array) -> Array:
    # sigmoid(x) - y as ([x >= 0] - y) - sign(x)*sigmoid(-|x|): exact -sigmoid(-x) for y = 1 and x > 0
    c = _exp_minus_abs(y_pred)
    d = c + 1.0
    np.divide(c, d, out=c)
    np.copysign(c, y_pred, out=c)
    g = np.subtract(np.logical_not(np.signbit(y_pred)), y_true)  # signbit agrees with copysign at -0.0
    g -= c
    return g


def d_hinge(y_pred: Array, y_true: Array) -> Array:
    inside = y_true * y_pred <= 1.0  # the catalog's branch at the margin y*s = 1
    g = np.negative(y_true)
    g *= inside  # a product, not a masked copy: the mask is random, and branches mispredict
    return g


def d_squared_hinge(y_pred: Array, y_true: Array) -> Array:
    t = hinge(y_pred, y_true)
    t *= y_true
    t *= -2.0
    return t


def d_soft_margin(y_pred: Array, y_true: Array) -> Array:
    w = np.negative(y_true)
    return _times_sigmoid(w, w * y_pred)  # -y*sigmoid(-y*s)


def d_poisson_nll(y_pred: Array, y_true: Array, log_input: float, eps: float) -> Array:
    if log_input > 0:
        r = np.exp(y_pred)
        r -= y_true
        return r
    t = y_pred + eps
    np.divide(y_true, t, out=t)
    return np.subtract(1.0, t, out=t)


def d_gaussian_nll(y_pred: Array, y_true: Array, var: Array, eps: float) -> Array:
    d = y_pred - y_true
    d /= np.maximum(var, eps)
    return d


def d_kl_div(y_pred: Array, y_true: Array) -> Array:  # noqa: ARG001 - the derivative does not depend on it
    return np.negative(y_true)


def d_quantile(y_pred: Array, y_true: Array, tau: float) -> Array:
    g = _step(y_pred > y_true, y_pred)  # -tau at y_pred = y_true (the catalog's >= branch)
    g -= tau
    return g


def d_binary_focal(y_pred: Array, y_true: Array, gamma: float, alpha: float, eps: float) -> Array:
    # A*(1-p)**(gamma-1)*(gamma*L1 - (1-p)/p) + B*p**(gamma-1)*(p/(1-p) - gamma*L2), A = alpha*y,
    # B = (1 - alpha)*(1 - y); the quotients are 0 where their logarithm is clamped
    p = y_pred
    l1, l2 = _focal_logs(p, eps)
    q = 1.0 - p
    with np.errstate(divide="ignore"):  # p = 0 or 1: the quotient is set to 0 below
        r = np.divide(q, p)
        s = np.divide(p, q)
    np.copyto(r, 0.0, where=p < eps)
    np.copyto(s, 0.0, where=p > 1.0 - eps)
    l1 *= gamma
    l1 -= r
    np.power(q, gamma - 1.0, out=q)
    l1 *= q
    l1 *= y_true
    l1 *= alpha
    s -= gamma * l2
    s *= np.power(p, gamma - 1.0)
    w = 1.0 - y_true
    w *= 1.0 - alpha
    s *= w
    l1 += s
    return l1


#: ``name -> (value, derivative in y_pred)`` for every elementwise loss.
LOSSES: dict[str, tuple[Callable[..., Array], Callable[..., Array]]] = {
    "bce_with_logits": (bce_with_logits, d_bce_with_logits),
    "binary_crossentropy": (binary_crossentropy, d_binary_crossentropy),
    "binary_focal": (binary_focal, d_binary_focal), "gaussian_nll": (gaussian_nll, d_gaussian_nll),
    "hinge": (hinge, d_hinge), "huber": (huber, d_huber), "kl_div": (kl_div, d_kl_div),
    "log_cosh": (log_cosh, d_log_cosh), "mae": (mae, d_mae), "mse": (mse, d_mse),
    "poisson_nll": (poisson_nll, d_poisson_nll), "quantile": (quantile, d_quantile),
    "smooth_l1": (smooth_l1, d_smooth_l1), "soft_margin": (soft_margin, d_soft_margin),
    "squared_hinge": (squared_hinge, d_squared_hinge),
}
LOSS_VALUES: dict[str, Callable[..., Array]] = {name: pair[0] for name, pair in LOSSES.items()}
LOSS_DERIVATIVES: dict[str, Callable[..., Array]] = {name: pair[1] for name, pair in LOSSES.items()}


# --- losses over a class axis -----------------------------------------------------------------


def _shifted_last(logits: Array, axis: int) -> Array:
    """A new array: ``logits`` with the class axis last, minus its maximum along that axis."""
    x = np.moveaxis(logits, axis, -1)
    return x - np.max(x, axis=-1, keepdims=True)


def c_cross_entropy(logits: Array, target: Array, axis: int = -1) -> Any:
    """Mean of ``log(sum(exp(s))) - s[target]`` with ``s = logits - max`` (PyTorch's default 'mean')."""
    s = _shifted_last(logits, axis)
    picked = np.take_along_axis(s, target[..., None], axis=-1)[..., 0]
    np.exp(s, out=s)
    lse = np.log(np.sum(s, axis=-1))
    lse -= picked
    return lse.mean()


def c_cross_entropy_gradient(logits: Array, target: Array, axis: int = -1) -> Array:
    """Per sample, ``softmax(logits) - one_hot(target)`` along ``axis``."""
    e = _shifted_last(logits, axis)
    np.exp(e, out=e)
    e /= np.sum(e, axis=-1, keepdims=True)
    index = target[..., None]
    np.put_along_axis(e, index, np.take_along_axis(e, index, axis=-1) - 1.0, axis=-1)
    return np.moveaxis(e, -1, axis)


CLASS_LOSSES: dict[str, Callable[..., Any]] = {"cross_entropy": c_cross_entropy}
CLASS_GRADIENTS: dict[str, Callable[..., Array]] = {"cross_entropy": c_cross_entropy_gradient}


# --- binding the catalog's parameters -------------------------------------------------------


def bind(function: Callable[..., Array], params: Mapping[str, float]) -> Callable[[Array], Array]:
    """``function`` with the parameters bound (as Python floats): a function of ``x`` only."""
    if not params:
        return function
    return functools.partial(function, **{k: float(v) for k, v in params.items()})


def _bound_table(table: Mapping[str, Callable[..., Array]], forge: Any,
                 category: str = "activation") -> dict[str, Callable[..., Array]]:
    """The elementwise entries of ``category`` in ``table``, with their default parameters bound."""
    result = {}
    for name in forge.list_all(category=category):
        if name in table and getattr(forge.get(name), "kind", "elementwise") == "elementwise":
            result[name] = bind(table[name], forge.get(name).params)
    return result


def elementwise(forge: Any) -> dict[str, Callable[[Array], Array]]:
    """``name -> f(x)`` for every elementwise activation of ``forge`` that has a reference,
    with the catalog's default parameters bound."""
    return _bound_table(VALUES, forge)


def derivatives(forge: Any) -> dict[str, Callable[[Array], Array]]:
    """``name -> f'(x)`` likewise."""
    return _bound_table(DERIVATIVES, forge)


def loss_values(forge: Any) -> dict[str, Callable[..., Array]]:
    """``name -> f(y_pred, y_true[, var])``, pointwise, for every elementwise loss that has a reference."""
    return _bound_table(LOSS_VALUES, forge, "loss")


def loss_derivatives(forge: Any) -> dict[str, Callable[..., Array]]:
    """``name -> df/dy_pred(y_pred, y_true[, var])`` likewise."""
    return _bound_table(LOSS_DERIVATIVES, forge, "loss")
