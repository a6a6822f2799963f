"""The few custom SymPy functions that stable numerics need, with their NumPy kernels.

Each primitive follows SymPy's function protocol exactly (``eval`` for special values,
``fdiff`` for the derivative, ``_eval_rewrite_as_exp`` for the elementary form, ``_latex``
and ``_numpycode`` for the printers). A primitive exists only where a composition of
existing functions cannot be evaluated stably: ``1/(1 + exp(-x))`` overflows for
``x < -709`` and ``log(1 + exp(x))`` returns ``inf`` at ``x = 1000``.

The derivatives stay compact and accurate in the tails: ``sigmoid'(x)`` is
``sigmoid(x)*sigmoid(-x)`` (never ``s*(1 - s)``, which is 0 at ``x = 50``), and
``softplus'(x)`` is ``sigmoid(x)``.

Examples:
    >>> import sympy
    >>> x = sympy.Symbol("x", real=True)
    >>> sigmoid(x).diff(x)
    sigmoid(-x)*sigmoid(x)
    >>> softplus(x).diff(x)
    sigmoid(x)
    >>> sigmoid(0), sigmoid(sympy.oo), softplus(-sympy.oo)
    (1/2, 1, 0)
    >>> sigmoid(x).rewrite(sympy.exp)
    1/(1 + exp(-x))
"""

from __future__ import annotations

from collections.abc import Callable

import math

import numpy as np
import sympy
from sympy.core.function import ArgumentIndexError


_SCIPY_SPECIAL = None


def _scipy_special():
    """``scipy.special``, imported on first use (it costs ~0.2 s at start-up)."""
    global _SCIPY_SPECIAL
    if _SCIPY_SPECIAL is None:
        import scipy.special

        _SCIPY_SPECIAL = scipy.special
    return _SCIPY_SPECIAL


#: Below this, SciPy's ``ndtr`` flushes subnormal results to 0; the tail formula takes over.
_NDTR_TAIL = -37.0


def _normal_cdf_kernel(x, cdf=None):
    """Standard normal CDF: SciPy's ``ndtr`` (``erfc`` in the left tail, no cancellation), and
    ``erfcx(-x/sqrt 2)*exp(-x**2/2)/2`` below -37, where ``ndtr`` returns 0 although the value
    is still a subnormal number (``x`` is clamped at -40, beyond which it is 0 in float64).
    The tail is computed only on the elements in it. A given ``cdf = ndtr(x)`` is only read."""
    return _times_normal_cdf_kernel(1.0, x, cdf)


def _shared_ndtr(u) -> np.ndarray | None:
    """``ndtr(u)`` for several normal-CDF kernels of ``u`` in one generated kernel (gelu and its
    derivative); ``None`` for a 0-d ``u``, whose kernels take their scalar path."""
    u = _float_array(u)
    return _scipy_special().ndtr(u) if u.ndim else None


def _normal_cdf_tail(a, u):
    """``a*normal_cdf(u)`` for ``u < -37`` as ``(a*c*h)*h``, ``h = exp(-u**2/4)``; 0 below -40."""
    special = _scipy_special()
    t = np.clip(u, -40, _NDTR_TAIL)
    h = np.exp(-0.25 * (t * t))
    tail = ((a * (0.5 * special.erfcx(-0.7071067811865476 * t))) * h) * h
    return np.where(u < -40, 0 * tail, tail)


def _times_normal_cdf_kernel(a, u, cdf=None):
    """``a*normal_cdf(u)`` accurate where the CDF is subnormal: ``(a*c*h)*h`` with ``h = exp(-u**2/4)``
    below -37 (on those elements only), ``a*ndtr(u)`` elsewhere. A given ``cdf`` is only read."""
    special = _scipy_special()
    u = _float_array(u)
    if u.ndim == 0 and np.ndim(a) == 0:
        value = _normal_cdf_tail(a, u) if u < _NDTR_TAIL else a * special.ndtr(u)
        return np.result_type(a, u).type(value)
    a = a if isinstance(a, (int, float)) else np.asarray(a)
    own = cdf is None
    cdf = special.ndtr(u) if own else cdf
    result = np.multiply(a, cdf, out=cdf if own and np.shape(a) in ((), cdf.shape)
                         and cdf.dtype == np.result_type(a, cdf) else None)
    return _with_tail(result, a, u, _NDTR_TAIL, _normal_cdf_tail)


def _times_normal_cdf_scalar(a: float, u: float) -> float:
    """``a*normal_cdf(u)`` for Python floats: SciPy's ``ndtr`` called on the float itself (the
    array kernel's value, without its array handling); the subnormal tail below -37 goes
    through the array kernel."""
    if not u >= _NDTR_TAIL:  # also NaN
        return float(_times_normal_cdf_kernel(np.float64(a), np.float64(u)))
    return a * float(_scipy_special().ndtr(u))


def _normal_cdf_scalar(u: float) -> float:
    return _times_normal_cdf_scalar(1.0, u)


#: Beyond this ``|u|``, ``exp(-u**2/2)`` may be subnormal: the product is formed in halves.
_PDF_TAIL = 37.0


def _normal_pdf_tail(a, u):
    t = np.minimum(np.abs(u), 60)
    h = np.exp(-0.25 * (t * t))
    return ((a * 0.3989422804014327) * h) * h


def _times_normal_pdf_kernel(a, u):
    """``a*normal_pdf(u)``; where ``exp(-u**2/2)`` may be subnormal (``|u| > 37``) it is split in two
    halves, so ``a`` meets it while normal (on those elements only).

    ``|u|`` is capped at 60, where each half is already exactly 0 (``exp(-900)``), so an
    infinite ``a`` still gives NaN there and the special-value guard supplies the limit.
    """
    u = _float_array(u)
    if u.ndim == 0 and np.ndim(a) == 0:
        return np.result_type(a, u).type(_normal_pdf_tail(a, u))
    a = a if isinstance(a, (int, float)) else np.asarray(a)
    t = np.abs(u)
    np.minimum(t, 60, out=t)
    np.multiply(t, t, out=t)
    t *= -0.5
    np.exp(t, out=t)
    t *= 0.3989422804014327
    result = np.multiply(a, t, out=t if np.shape(a) in ((), t.shape) and t.dtype == np.result_type(a, t) else None)
    return _with_tail(result, a, -np.abs(u), -_PDF_TAIL, _normal_pdf_tail)


def _times_normal_pdf_scalar(a: float, u: float) -> float:
    t = min(abs(u), 60.0)
    h = math.exp(-0.25 * (t * t))
    return ((a * 0.3989422804014327) * h) * h


def _normal_pdf_kernel(x):
    """Standard normal density; ``|x|`` is capped at 40, where the density is already 0 in float64."""
    t = np.minimum(np.abs(x), 40)
    return np.exp(-0.5 * (t * t)) * 0.3989422804014327


def _sigmoid_scalar(x: float) -> float:
    e = math.exp(-abs(x))
    return (1.0 if x >= 0 else e) / (1 + e)


def _softplus_scalar(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _normal_pdf_scalar(x: float) -> float:
    t = min(abs(x), 40.0)
    return math.exp(-0.5 * (t * t)) * 0.3989422804014327


def _sech_kernel(x):
    """``1/cosh(x)`` as ``2e/(1 + e**2)`` with ``e = exp(-|x|)``: no overflow, exact tails."""
    e = np.exp(-np.abs(x))
    return 2 * e / (1 + e * e)


def _sech_scalar(x: float) -> float:
    e = math.exp(-abs(x))
    return 2 * e / (1 + e * e)


def _tanh_series() -> tuple[float, ...]:
    """Coefficients of ``(x - tanh x)/x**3`` in powers of ``x**2`` (from Bernoulli numbers)."""
    import mpmath

    coefficients = []
    for n in range(2, 42):
        c = (mpmath.mpf(2) ** (2 * n) * (mpmath.mpf(2) ** (2 * n) - 1) * mpmath.bernoulli(2 * n)
             / mpmath.factorial(2 * n))
        coefficients.append(float(-c))
    return tuple(coefficients)


_TANH_SHRINK_SERIES: tuple[float, ...] = ()
#: Below this magnitude ``x - tanh(x)`` is summed as a series (it cancels there).
_TANH_SHRINK_SERIES_BOUND = 0.9


def _tanh_shrink_series(t):
    """``t - tanh(t)`` by its series (for ``|t| < 0.9``), Horner in ``t**2``."""
    global _TANH_SHRINK_SERIES
    if not _TANH_SHRINK_SERIES:
        _TANH_SHRINK_SERIES = _tanh_series()
    t2 = t * t
    total = 0 * t2
    for c in reversed(_TANH_SHRINK_SERIES):
        total = total * t2 + c
    return total * t2 * t


def _tanh_shrink_kernel(x):
    """``x - tanh(x)`` without cancellation near 0: the 40-term series for ``|x| < 0.9``,
    evaluated on those elements only."""
    x = _float_array(x)
    if x.ndim == 0:
        small = abs(x) < _TANH_SHRINK_SERIES_BOUND
        return _tanh_shrink_series(x) if small else x - np.tanh(x)
    result = np.tanh(x)
    np.subtract(x, result, out=result)
    small = np.abs(x) < _TANH_SHRINK_SERIES_BOUND
    if small.any():
        result[small] = _tanh_shrink_series(x[small])
    return result


def _tanh_shrink_scalar(x: float) -> float:
    global _TANH_SHRINK_SERIES
    if abs(x) >= _TANH_SHRINK_SERIES_BOUND:
        return x - math.tanh(x)
    if not _TANH_SHRINK_SERIES:
        _TANH_SHRINK_SERIES = _tanh_series()
    t2 = x * x
    total = 0.0
    for c in reversed(_TANH_SHRINK_SERIES):
        total = total * t2 + c
    return total * t2 * x


def _sqrt_plus_kernel(u, c):
    """``u + sqrt(u**2 + c)`` (``c >= 0``) without cancellation for ``u < 0`` or overflow."""
    h = np.hypot(u, np.sqrt(c))
    return np.where(u < 0, c / (h - np.minimum(u, 0)), u + h)


def _sqrt_plus_scalar(u: float, c: float) -> float:
    h = math.hypot(u, math.sqrt(c))
    return c / (h - u) if u < 0 else u + h


#: Below this, ``sigmoid(u) == exp(u)`` to full precision (``1 + exp(u)`` rounds to 1).
_SIGMOID_TAIL = -37.0


#: Below this, ``exp(u)`` may be subnormal: products with it are formed as ``(a*h)*h``.
_SUBNORMAL_TAIL = -700.0


def _times_sigmoid_kernel(a, u, e=None):
    """``a*sigmoid(u)`` as ``where(u >= 0, a, a*e)/(1 + e)``, ``e = exp(-|u|)``, accurate where
    ``sigmoid(u)`` is subnormal. ``e`` may be given (:func:`_shared_exp_minus_abs`); it is
    then only read.

    There ``sigmoid(u) == exp(u)``, and ``(a*h)*h`` with ``h = exp(u/2)`` keeps every
    intermediate normal, so only the final product is rounded (``x*sigmoid(2x)`` at
    ``x = -362`` would otherwise lose 8 significant digits). That tail is recomputed only
    on the elements in it.
    """
    u = _float_array(u)
    if u.ndim == 0 and np.ndim(a) == 0:
        return np.result_type(a, u).type(_times_sigmoid_scalar(float(a), float(u)))
    a = a if isinstance(a, (int, float)) else np.asarray(a)  # a Python number stays weak (float32 kept)
    own = e is None
    e = _exp_minus_abs(u) if own else e
    numerator = np.multiply(e, a)
    np.copyto(numerator, a, where=u >= 0)
    d = np.add(e, 1, out=e if own else None)
    result = np.divide(numerator, d, out=numerator if numerator.shape == d.shape else None)
    return _with_subnormal_tail(result, a, u, lambda a, u: _tail_product(a, 0.5 * u))


def _tail_product(a: np.ndarray, half_exponent: np.ndarray) -> np.ndarray:
    """``a*exp(2*half_exponent)`` as ``(a*h)*h``: normal intermediates, one final rounding."""
    h = np.exp(half_exponent)
    return (a * h) * h


def _with_subnormal_tail(result: np.ndarray, a: np.ndarray, u: np.ndarray, tail) -> np.ndarray:
    """``result`` with ``tail(a, u)`` where ``u < -700`` (subnormal territory), computed there only."""
    return _with_tail(result, a, u, _SUBNORMAL_TAIL, tail)


def _with_tail(result: np.ndarray, a, u: np.ndarray, threshold: float, tail) -> np.ndarray:
    """``result`` with ``tail(a, u)`` on the elements where ``u < threshold`` (others untouched).

    ``u`` is scanned once (``fmin`` skips NaN); the tail formula runs on the subset only.
    ``tail`` receives the matching elements of ``a`` and ``u`` and refers to nothing else.
    """
    if u.size == 0 or not np.fmin.reduce(u, axis=None) < threshold:
        return result
    a, u = np.broadcast_arrays(a, u)
    mask = u < threshold
    if result.shape != mask.shape or not result.flags.writeable:
        result = np.array(np.broadcast_to(result, mask.shape))
    result[mask] = tail(a[mask], u[mask])
    return result


def _times_sigmoid_scalar(a: float, u: float) -> float:
    if u < _SIGMOID_TAIL:
        h = math.exp(0.5 * u)
        return (a * h) * h
    return a * _sigmoid_scalar(u)


def _times_sigmoid_slope_kernel(a, u, e=None):
    """``a*sigmoid(u)*sigmoid(-u)`` (``a`` times the sigmoid's derivative) as ``a*e/(1 + e)**2``,
    ``e = exp(-|u|)``: one exponential instead of two sigmoids, symmetric in ``u``, and
    ``(a*h)*h`` with ``h = exp(-|u|/2)`` where ``e`` is subnormal. A given ``e`` is only read."""
    u = _float_array(u)
    if u.ndim == 0 and np.ndim(a) == 0:
        return np.result_type(a, u).type(_times_sigmoid_slope_scalar(float(a), float(u)))
    a = a if isinstance(a, (int, float)) else np.asarray(a)  # a Python number stays weak (float32 kept)
    own = e is None
    e = _exp_minus_abs(u) if own else e
    denominator = e + 1
    denominator *= denominator
    numerator = e if isinstance(a, (int, float)) and a == 1 else np.multiply(e, a)
    if numerator is e and not own:  # write over the denominator instead of the shared e
        result = np.divide(numerator, denominator, out=denominator)
    else:
        result = np.divide(numerator, denominator, out=numerator if numerator.shape == e.shape else None)
    if u.size and (np.fmin.reduce(u, axis=None) < _SUBNORMAL_TAIL or np.fmax.reduce(u, axis=None) > -_SUBNORMAL_TAIL):
        result = _with_subnormal_tail(result, a, -np.abs(u), lambda a, t: _tail_product(a, 0.5 * t))
    return result


def _sigmoid_plus_slope_kernel(a, u, e=None):
    """``sigmoid(u) + a*sigmoid(u)*sigmoid(-u)`` (the derivative of ``x*sigmoid(u)``-like
    products) as ``(where(u >= 0, 1, e)*(1 + e) + a*e)/(1 + e)**2``, ``e = exp(-|u|)``: one
    exponential; ``((1 + a)*h)*h``, ``h = exp(u/2)``, where ``e`` is subnormal. A given ``e``
    is only read."""
    u = _float_array(u)
    if u.ndim == 0 and np.ndim(a) == 0:
        return np.result_type(a, u).type(_sigmoid_plus_slope_scalar(float(a), float(u)))
    a = a if isinstance(a, (int, float)) else np.asarray(a)
    own = e is None
    e = _exp_minus_abs(u) if own else e
    d = e + 1
    numerator = e * d
    np.copyto(numerator, d, where=u >= 0)           # where(u >= 0, 1, e)*(1 + e)
    slope = np.multiply(e, a, out=e if own and np.shape(a) in ((), e.shape) else None)
    numerator = np.add(numerator, slope, out=numerator if numerator.shape == slope.shape else None)
    d *= d
    result = np.divide(numerator, d, out=numerator if numerator.shape == d.shape else None)
    return _with_subnormal_tail(result, a, u, lambda a, u: _tail_product(1 + a, 0.5 * u))


def _sigmoid_plus_slope_scalar(a: float, u: float) -> float:
    if u < _SIGMOID_TAIL:
        h = math.exp(0.5 * u)
        return ((1 + a) * h) * h
    e = math.exp(-abs(u))
    d = 1 + e
    return ((d if u >= 0 else e * d) + a * e) / (d * d)


def _times_sigmoid_slope_scalar(a: float, u: float) -> float:
    t = -abs(u)
    if t < _SIGMOID_TAIL:
        h = math.exp(0.5 * t)
        return (a * h) * h
    e = math.exp(t)
    return a * e / ((1 + e) * (1 + e))


def _float_array(x) -> np.ndarray:
    """``x`` as a floating ndarray (integers as float64), for kernels that work in place."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _exp_minus_abs(x: np.ndarray) -> np.ndarray:
    """A new array ``exp(-|x|)`` (never overflows), built in place: one buffer, three passes."""
    e = np.abs(x)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def _shared_exp_minus_abs(u) -> np.ndarray | None:
    """``exp(-|u|)`` for several kernels of ``u`` or ``-u`` in one generated kernel (the value
    and the derivative of softplus, both terms of BCE with logits): computed once, read by
    each. ``None`` for a 0-d ``u``, whose kernels take their scalar path."""
    u = _float_array(u)
    return _exp_minus_abs(u) if u.ndim else None


def _sigmoid_kernel(x, e=None):
    """Logistic sigmoid ``where(x >= 0, 1, e)/(1 + e)``, ``e = exp(-|x|)``: one rounding, no
    overflow, subnormal results in the left tail; temporaries are reused in place (a given
    ``e`` is only read)."""
    x = _float_array(x)
    if x.ndim == 0:
        return x.dtype.type(_sigmoid_scalar(float(x))) if x == x else x[()]
    own = e is None
    e = _exp_minus_abs(x) if own else e
    numerator = np.where(x >= 0, x.dtype.type(1), e)
    d = np.add(e, 1, out=e if own else None)
    return np.divide(numerator, d, out=numerator)


def _tanh_softplus_kernel(u):
    """``tanh(softplus(u))`` (mish's gate) as ``n/(n + 2)``, ``n = e*(e + 2)``, ``e = exp(min(u, 30))``:
    one exponential instead of an exp, a log1p and a tanh; exact in both tails (``e`` in the left,
    1.0 beyond 30 where ``tanh`` is 1 to double precision)."""
    u = _float_array(u)
    if u.ndim == 0:
        return u.dtype.type(_tanh_softplus_scalar(float(u))) if u == u else u[()]
    e = np.minimum(u, 30.0)
    np.exp(e, out=e)
    n = e + 2.0
    n *= e
    np.add(n, 2.0, out=e)
    return np.divide(n, e, out=n)


def _tanh_softplus_scalar(u: float) -> float:
    e = math.exp(min(u, 30.0))
    n = e * (e + 2.0)
    return n / (n + 2.0)


def _mish_slope_kernel(a, u):
    """``tanh(softplus(u)) + a*sigmoid(u)*sech(softplus(u))**2`` (mish's derivative for ``a = u``)
    with one exponential: ``(n*(n + 2) + 4*a*e*(e + 1))/(n + 2)**2``, ``n = e*(e + 2)``,
    ``e = exp(u)``. Beyond ``u = 15`` (float32) or 30 (float64), where ``n**2`` could overflow,
    the same quantity is formed from ``r = exp(-u)``; below -700, where ``e`` is subnormal, as
    ``((1 + a)*h)*h`` with ``h = exp(u/2)``. Both tails are computed on their elements only."""
    u = _float_array(u)
    if u.ndim == 0 and np.ndim(a) == 0:
        return np.result_type(a, u).type(_mish_slope_scalar(float(a), float(u)))
    a = a if isinstance(a, (int, float)) else np.asarray(a)
    cap = 15.0 if u.dtype == np.float32 else 30.0
    e = np.minimum(u, cap)
    np.exp(e, out=e)
    n = e + 2.0
    n *= e                      # n = e*(e + 2)
    second = e + 1.0
    second *= e
    second = np.multiply(second, a, out=second if np.shape(a) in ((), e.shape) else None)
    second *= 4.0               # 4*a*e*(e + 1)
    d = n + 2.0
    n *= d
    n += second                 # n*(n + 2) + 4*a*e*(e + 1)
    d *= d
    result = np.divide(n, d, out=n if n.shape == d.shape else None)
    result = _with_tail(result, a, -u, -cap, lambda a, t: _mish_slope_right(a, -t))
    return _with_subnormal_tail(result, a, u, lambda a, u: _tail_product(1 + a, 0.5 * u))


def _mish_slope_right(a, u):
    """The mish slope for large ``u`` from ``r = exp(-u)``: ``(1 + 2r)/(1 + 2r + 2r**2) +
    4*a*r**2*(1 + r)/(1 + 2r + 2r**2)**2`` (the formula above divided through by ``e**4``)."""
    r = np.exp(-u)
    d = 1 + 2 * r + 2 * r * r
    return (1 + 2 * r) / d + 4 * a * (r * r) * (1 + r) / (d * d)


def _mish_slope_scalar(a: float, u: float) -> float:
    if u < _SUBNORMAL_TAIL:
        h = math.exp(0.5 * u)
        return ((1 + a) * h) * h
    if u > 30.0:
        r = math.exp(-u)
        d = 1 + 2 * r + 2 * r * r
        return (1 + 2 * r) / d + 4 * a * (r * r) * (1 + r) / (d * d)
    e = math.exp(u)
    n = e * (e + 2.0)
    d = n + 2.0
    return (n * d + 4.0 * a * e * (e + 1.0)) / (d * d)


def _softplus_kernel(x, e=None):
    """``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``: exact in both tails, no overflow.
    A given ``e = exp(-|x|)`` is only read."""
    x = _float_array(x)
    if x.ndim == 0:
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    own = e is None
    e = _exp_minus_abs(x) if own else e
    result = np.log1p(e, out=e if own else None)
    result += np.maximum(x, 0)
    return result


class sigmoid(sympy.Function):  # noqa: N801 - SymPy's convention: functions are lower-case
    r"""The logistic sigmoid :math:`\sigma(x) = 1/(1 + e^{-x})`."""

    _kernel_name = "mf_sigmoid"
    _scalar_kernel = staticmethod(_sigmoid_scalar)
    _kernel = staticmethod(_sigmoid_kernel)

    @classmethod
    def eval(cls, arg):
        if arg is sympy.S.Zero:
            return sympy.S.Half
        if arg is sympy.S.Infinity:
            return sympy.S.One
        if arg is sympy.S.NegativeInfinity:
            return sympy.S.Zero
        if arg is sympy.S.NaN:
            return sympy.S.NaN
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        (arg,) = self.args
        return sigmoid(arg) * sigmoid(-arg)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sympy.exp(-arg))

    _eval_rewrite_as_tractable = _eval_rewrite_as_exp

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class softplus(sympy.Function):  # noqa: N801
    r"""Softplus :math:`\log(1 + e^{x})`, the smooth ReLU; its derivative is the sigmoid."""

    _kernel_name = "mf_softplus"
    _scalar_kernel = staticmethod(_softplus_scalar)
    _kernel = staticmethod(_softplus_kernel)

    @classmethod
    def eval(cls, arg):
        if arg is sympy.S.Zero:
            return sympy.log(2)
        if arg is sympy.S.Infinity:
            return sympy.S.Infinity
        if arg is sympy.S.NegativeInfinity:
            return sympy.S.Zero
        if arg is sympy.S.NaN:
            return sympy.S.NaN
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sympy.log(1 + sympy.exp(arg))

    _eval_rewrite_as_tractable = _eval_rewrite_as_exp

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        body = r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


def _even_function_value(cls, arg, at_zero: sympy.Expr, at_infinity: sympy.Expr) -> sympy.Expr | None:
    """An even function's value at ``0``, ``±oo`` and ``nan``; ``f(-u)`` becomes ``f(u)``."""
    if arg is sympy.S.Zero:
        return at_zero
    if arg in (sympy.S.Infinity, sympy.S.NegativeInfinity):
        return at_infinity
    if arg is sympy.S.NaN:
        return sympy.S.NaN
    if arg.could_extract_minus_sign():
        return cls(-arg)
    return None


class normal_pdf(sympy.Function):  # noqa: N801
    r"""The standard normal density :math:`\phi(x) = e^{-x^2/2}/\sqrt{2\pi}`."""

    _kernel_name = "mf_normal_pdf"
    _scalar_kernel = staticmethod(_normal_pdf_scalar)
    _kernel = staticmethod(_normal_pdf_kernel)

    @classmethod
    def eval(cls, arg):
        return _even_function_value(cls, arg, at_zero=1 / sympy.sqrt(2 * sympy.pi), at_infinity=sympy.S.Zero)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return -self.args[0] * normal_pdf(self.args[0])

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sympy.exp(-arg**2 / 2) / sympy.sqrt(2 * sympy.pi)

    _eval_rewrite_as_tractable = _eval_rewrite_as_exp

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        body = r"\phi\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class normal_cdf(sympy.Function):  # noqa: N801
    r"""The standard normal CDF :math:`\Phi(x) = \tfrac12\operatorname{erfc}(-x/\sqrt2)`.

    A primitive because SymPy rewrites ``erfc(-u)`` as ``2 - erfc(u)``, which cancels in
    the left tail (exact GELU at ``x = -8.4`` would lose every digit).
    """

    _kernel_name = "mf_normal_cdf"
    _scalar_kernel = staticmethod(_normal_cdf_scalar)
    _kernel = staticmethod(_normal_cdf_kernel)

    @classmethod
    def eval(cls, arg):
        if arg is sympy.S.Zero:
            return sympy.S.Half
        if arg is sympy.S.Infinity:
            return sympy.S.One
        if arg is sympy.S.NegativeInfinity:
            return sympy.S.Zero
        if arg is sympy.S.NaN:
            return sympy.S.NaN
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return normal_pdf(self.args[0])

    def _eval_rewrite_as_erf(self, arg, **kwargs):
        return (1 + sympy.erf(arg / sympy.sqrt(2))) / 2

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sympy.erfc(-arg / sympy.sqrt(2)) / 2

    _eval_rewrite_as_tractable = _eval_rewrite_as_erf

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.erf)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        body = r"\Phi\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


#: Every primitive, by the name formulas use for it.
PRIMITIVES: dict[str, type[sympy.Function]] = {
    "sigmoid": sigmoid,
    "softplus": softplus,
    "normal_cdf": normal_cdf,
    "normal_pdf": normal_pdf,
}

#: The NumPy kernel of each primitive, by the name the printer emits.
NUMPY_KERNELS: dict[str, Callable] = {cls._kernel_name: cls._kernel for cls in PRIMITIVES.values()}

#: Kernels of SymPy's own functions whose textbook evaluation overflows (``cosh(710)``).
NUMPY_KERNELS["mf_sech"] = _sech_kernel
NUMPY_KERNELS["mf_times_sigmoid"] = _times_sigmoid_kernel
NUMPY_KERNELS["mf_times_sigmoid_slope"] = _times_sigmoid_slope_kernel
NUMPY_KERNELS["mf_tanh_softplus"] = _tanh_softplus_kernel
NUMPY_KERNELS["mf_mish_slope"] = _mish_slope_kernel
NUMPY_KERNELS["mf_sigmoid_plus_slope"] = _sigmoid_plus_slope_kernel
NUMPY_KERNELS["mf_times_normal_cdf"] = _times_normal_cdf_kernel
NUMPY_KERNELS["mf_times_normal_pdf"] = _times_normal_pdf_kernel
NUMPY_KERNELS["mf_tanh_shrink"] = _tanh_shrink_kernel
NUMPY_KERNELS["mf_sqrt_plus"] = _sqrt_plus_kernel
NUMPY_KERNELS["mf_exp_minus_abs"] = _shared_exp_minus_abs
NUMPY_KERNELS["mf_ndtr"] = _shared_ndtr
#: Kernels that take ``cdf=ndtr(u)`` of their last argument ``u``.
SHARES_NDTR = frozenset({"mf_normal_cdf", "mf_times_normal_cdf"})
#: Kernels that take ``e=exp(-|u|)`` of their last argument ``u`` (shared by the printer).
SHARES_EXP_MINUS_ABS = frozenset({"mf_sigmoid", "mf_softplus", "mf_times_sigmoid", "mf_times_sigmoid_slope",
                                  "mf_sigmoid_plus_slope"})

#: The Python-float kernel of each primitive (``math`` module; SciPy where NumPy uses it).
SCALAR_KERNELS: dict[str, Callable] = {cls._kernel_name: cls._scalar_kernel for cls in PRIMITIVES.values()}
SCALAR_KERNELS["mf_sech"] = _sech_scalar
SCALAR_KERNELS["mf_times_sigmoid"] = _times_sigmoid_scalar
SCALAR_KERNELS["mf_times_sigmoid_slope"] = _times_sigmoid_slope_scalar
SCALAR_KERNELS["mf_tanh_softplus"] = _tanh_softplus_scalar
SCALAR_KERNELS["mf_mish_slope"] = _mish_slope_scalar
SCALAR_KERNELS["mf_sigmoid_plus_slope"] = _sigmoid_plus_slope_scalar
SCALAR_KERNELS["mf_times_normal_cdf"] = _times_normal_cdf_scalar
SCALAR_KERNELS["mf_times_normal_pdf"] = _times_normal_pdf_scalar
SCALAR_KERNELS["mf_tanh_shrink"] = _tanh_shrink_scalar
SCALAR_KERNELS["mf_sqrt_plus"] = _sqrt_plus_scalar


# --- primitives for losses -----------------------------------------------------------------


#: Beyond this ``|x|``, ``log(cosh(x)) = |x| - log 2`` to double precision (the rest is below 4e-18).
_LOG_COSH_FAR = 20.0
_LN2 = 0.6931471805599453


def _log_cosh_kernel(x):
    """``log(cosh(x))`` as ``log1p(u**2/(2*(1 + u)))``, ``u = expm1(|x|)`` (``cosh(x) - 1`` without
    cancellation near 0; two transcendental passes), and ``|x| - log 2`` beyond 20 (no
    overflow), on those elements only."""
    a = np.abs(x)
    if a.ndim == 0:
        return a.dtype.type(_log_cosh_scalar(float(a))) if a.dtype.kind == "f" else _log_cosh_scalar(float(a))
    a = a if a.dtype.kind == "f" else a.astype(np.float64)
    u = np.minimum(a, _LOG_COSH_FAR)
    np.expm1(u, out=u)
    t = u * u
    u += 1.0
    u *= 2.0
    t /= u
    np.log1p(t, out=t)
    if a.size and np.fmax.reduce(a, axis=None) > _LOG_COSH_FAR:
        far = a > _LOG_COSH_FAR
        t[far] = a[far] - _LN2
    return t


def _log_cosh_scalar(x: float) -> float:
    a = abs(x)
    if a > _LOG_COSH_FAR:
        return a - _LN2
    u = math.expm1(a)
    return math.log1p(u * u / (2.0 * (u + 1.0)))


class log_cosh(sympy.Function):  # noqa: N801
    r"""``log(cosh(x))``: about ``x**2/2`` near 0 and ``|x| - log 2`` far out; derivative ``tanh``."""

    _kernel_name = "mf_log_cosh"
    _kernel = staticmethod(_log_cosh_kernel)
    _scalar_kernel = staticmethod(_log_cosh_scalar)

    @classmethod
    def eval(cls, arg):
        return _even_function_value(cls, arg, at_zero=sympy.S.Zero, at_infinity=sympy.S.Infinity)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sympy.tanh(self.args[0])

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sympy.log((sympy.exp(arg) + sympy.exp(-arg)) / 2)

    _eval_rewrite_as_tractable = _eval_rewrite_as_exp

    def _eval_evalf(self, prec):
        return sympy.log(sympy.cosh(self.args[0]))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\log\cosh\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


def _xlogy_kernel(x, y):
    """``x*log(y)`` with ``0*log(0) = 0`` (SciPy's ``xlogy``)."""
    return _scipy_special().xlogy(x, y)


def _xlogy_scalar(x: float, y: float) -> float:
    if x == 0 and y == y:
        return 0.0
    return x * math.log(y)


class xlogy(sympy.Function):  # noqa: N801
    r"""``x*log(y)``, defined as 0 where ``x = 0`` (so ``0*log(0) = 0``, as KL divergence needs)."""

    _kernel_name = "mf_xlogy"
    _kernel = staticmethod(_xlogy_kernel)
    _scalar_kernel = staticmethod(_xlogy_scalar)
    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if x is sympy.S.Zero:
            return sympy.S.Zero
        return None

    def fdiff(self, argindex=1):
        x, y = self.args
        if argindex == 1:
            return sympy.log(y)
        if argindex == 2:
            return xdivy(x, y)
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_log(self, x, y, **kwargs):
        return x * sympy.log(y)

    def _eval_evalf(self, prec):
        x, y = self.args
        if x.is_zero:
            return sympy.Float(0, prec)
        return (x * sympy.log(y))._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        x, y = (printer._print(a) for a in self.args)
        body = r"%s \log\left(%s\right)" % (x, y)
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


def _xdivy_kernel(x, y):
    """``x/y`` with ``0/y = 0`` for every ``y`` but NaN; a quotient beyond the float range is ``±inf``."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        quotient = np.divide(x, y)
    zero = (np.asarray(x) == 0) & ~np.isnan(y)
    if np.ndim(quotient) == 0:
        return quotient.dtype.type(0) if zero else quotient
    return np.where(zero, quotient.dtype.type(0), quotient)


def _xdivy_scalar(x: float, y: float) -> float:
    if x == 0 and y == y:
        return 0.0
    return x / y


class xdivy(sympy.Function):  # noqa: N801
    r"""``x/y``, defined as 0 where ``x = 0`` (the derivative of ``xlogy`` by ``y``).

    A zero weight cancels a pole or an overflowing quotient: the gradient of
    ``y_true*log(y_pred)`` at ``y_true = 0`` is 0 even where ``1/y_pred`` overflows float32.
    """

    _kernel_name = "mf_xdivy"
    _kernel = staticmethod(_xdivy_kernel)
    _scalar_kernel = staticmethod(_xdivy_scalar)
    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if x is sympy.S.Zero:
            return sympy.S.Zero
        if y is sympy.S.One:
            return x
        return None

    def fdiff(self, argindex=1):
        x, y = self.args
        if argindex == 1:
            return 1 / y
        if argindex == 2:
            return -xdivy(x, y**2)
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_Mul(self, x, y, **kwargs):
        return x / y

    def _eval_evalf(self, prec):
        x, y = self.args
        if x.is_zero:
            return sympy.Float(0, prec)
        return (x / y)._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        body = r"\frac{%s}{%s}" % tuple(printer._print(a) for a in self.args)
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


for _cls in (log_cosh, xlogy, xdivy):
    PRIMITIVES[_cls.__name__] = _cls
    NUMPY_KERNELS[_cls._kernel_name] = _cls._kernel
    SCALAR_KERNELS[_cls._kernel_name] = _cls._scalar_kernel
