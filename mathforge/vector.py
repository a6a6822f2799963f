"""Vector-valued entries (softmax, log_softmax, softmin, glu): functions along an axis.

Each has a textbook formula (``e^{x_j} / Σ_k e^{x_k}``), a symbolic Jacobian (the element
form ``s_j (δ_jk − s_k)``, or an explicit matrix for a given size), a max-shifted,
axis-aware NumPy kernel, and a numeric vector–Jacobian product (what backpropagation needs).

Limits are exact where they exist: a row with exactly one ``+inf`` has softmax one-hot
there (PyTorch and JAX return NaN); rows with several ``+inf``, all ``-inf``, or a NaN have
no limit, and give NaN.

Examples:
    >>> import numpy as np
    >>> from mathforge import MathForge
    >>> softmax = MathForge().get("softmax")
    >>> softmax.symbolic_expr
    exp(x[j])/Sum(exp(x[k]), (k, 1, n))
    >>> softmax.eval(np.array([1000.0, 0.0, -1000.0]))
    array([1., 0., 0.])
    >>> softmax.jacobian()
    (-exp(x[k])/Sum(exp(x[m]), (m, 1, n)) + KroneckerDelta(j, k))*exp(x[j])/Sum(exp(x[m]), (m, 1, n))
    >>> softmax.jacobian(2)[0, 1]  # the explicit matrix for two inputs
    -exp(x1)*exp(x2)/(exp(x1) + exp(x2))**2
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .frozen import freeze
from .primitives import _sigmoid_kernel, _times_sigmoid_kernel, sigmoid

X = sympy.IndexedBase("x", real=True)
J, K = sympy.symbols("j k", integer=True, positive=True)
N = sympy.Symbol("n", integer=True, positive=True)


def _exp_sum(sign: int) -> sympy.Expr:
    return sympy.Sum(sympy.exp(sign * X[K]), (K, 1, N))


# --- NumPy kernels ---------------------------------------------------------------------------


def _shifted(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x - max`` (finite rows), the rows' ``+inf`` counts, and which rows have no limit."""
    top = np.max(x, axis=axis, keepdims=True)
    infinite_top = top == np.inf
    plus_inf = np.sum(x == np.inf, axis=axis, keepdims=True)
    undefined = (np.isnan(top) | (top == -np.inf) | (plus_inf > 1))
    safe_top = np.where(np.isfinite(top), top, 0)
    one_hot = np.where(x == np.inf, 0, -np.inf).astype(x.dtype)
    with np.errstate(over="ignore"):  # -1e308 - 1e308 is -inf, and exp(-inf) = 0 is exact
        shifted = np.where(infinite_top, one_hot, x - safe_top)
    return np.where(undefined, 0, shifted), plus_inf, undefined  # rows without a limit: NaN later


def _finite_rows_shifted(x: np.ndarray, axis: int, sign: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
    """``(sign*x - max(sign*x), argmax(sign*x))`` when every row's extreme is finite; else ``None``.

    The common case, in two passes over ``x``; rows with a NaN or an infinite extreme take
    the general path of :func:`_shifted`.
    """
    find = np.argmax if sign > 0 else np.argmin
    index = np.expand_dims(find(x, axis=axis), axis)  # a NaN is the arg-extreme of its row
    extreme = np.take_along_axis(x, index, axis=axis)
    if not np.isfinite(extreme).all():
        return None
    with np.errstate(over="ignore"):  # -1e308 - 1e308 is -inf, and exp(-inf) = 0 is exact
        return (np.subtract(x, extreme) if sign > 0 else np.subtract(extreme, x)), index


def _softmax(x: np.ndarray, axis: int, sign: int = 1) -> np.ndarray:
    fast = _finite_rows_shifted(x, axis, sign) if x.size else None
    if fast is not None:
        e = np.exp(fast[0], out=fast[0])
        e /= np.sum(e, axis=axis, keepdims=True)
        return e
    if sign < 0:
        x = -x
    shifted, _, undefined = _shifted(x, axis)
    e = np.exp(shifted)
    result = e / np.sum(e, axis=axis, keepdims=True)
    return np.where(undefined, np.nan, result)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    fast = _finite_rows_shifted(x, axis) if x.size else None
    if fast is not None:
        # log(sum) = log1p(rest), rest = the sum without the argmax's exact 1 (other maxima
        # keep theirs): no loss when the sum is close to 1
        shifted, index = fast
        e = np.exp(shifted)
        np.put_along_axis(e, index, 0, axis=axis)
        shifted -= np.log1p(np.sum(e, axis=axis, keepdims=True))
        return shifted
    shifted, _, undefined = _shifted(x, axis)
    # the maxima contribute exactly 1 each, so log(sum) = log1p(rest): no loss when sum ~ 1
    at_max = shifted == 0
    rest = (np.sum(np.where(at_max, 0, np.exp(shifted)), axis=axis, keepdims=True)
            + (np.sum(at_max, axis=axis, keepdims=True) - 1).astype(x.dtype))
    result = shifted - np.log1p(rest)
    return np.where(undefined, np.nan, result)


def _softmin(x: np.ndarray, axis: int) -> np.ndarray:
    return _softmax(x, axis, sign=-1)


def _halves(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu needs an even size along axis {axis}, got {size}")
    return np.split(x, 2, axis=axis)


def _glu(x: np.ndarray, axis: int) -> np.ndarray:
    a, b = _halves(x, axis)
    with np.errstate(invalid="ignore"):  # only a = ±inf with b = -inf (no limit) makes inf*0: NaN
        return _times_sigmoid_kernel(a, b)


def _softmax_vjp(x: np.ndarray, v: np.ndarray, axis: int) -> np.ndarray:
    s = _softmax(x, axis)
    return s * (v - np.sum(v * s, axis=axis, keepdims=True))


def _log_softmax_vjp(x: np.ndarray, v: np.ndarray, axis: int) -> np.ndarray:
    return v - _softmax(x, axis) * np.sum(v, axis=axis, keepdims=True)


def _softmin_vjp(x: np.ndarray, v: np.ndarray, axis: int) -> np.ndarray:
    return -_softmax_vjp(-x, v, axis)


def _glu_vjp(x: np.ndarray, v: np.ndarray, axis: int) -> np.ndarray:
    a, b = _halves(x, axis)
    gate = _sigmoid_kernel(b)
    with np.errstate(invalid="ignore"):  # inf*0 only where the derivative has no limit: NaN
        return np.concatenate([v * gate, _times_sigmoid_kernel(v * a * gate, -b)], axis=axis)


# --- the table of axis functions -------------------------------------------------------------


@dataclass(frozen=True)
class AxisFunction:
    """One vector-valued function: textbook formula, Jacobian, kernel and VJP."""

    name: str
    #: Build the textbook formula and the Jacobian element on first use: SymPy takes
    #: ~15 ms for the four of them, which importing this module (``cross_entropy``'s first
    #: ``get``) need not pay.
    build_textbook: Callable[[], sympy.Expr]
    build_jacobian_element: Callable[[], sympy.Expr]
    vector: Callable[[list[sympy.Symbol]], list[sympy.Expr]]
    forward: Callable[[np.ndarray, int], np.ndarray]
    vjp: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    output_size: Callable[[int], int] = lambda n: n

    @property
    def textbook(self) -> sympy.Expr:
        """The ``j``-th output over ``x[1..n]`` (built once)."""
        return _built(self.build_textbook)

    @property
    def jacobian_element(self) -> sympy.Expr:
        """``d y_j / d x_k`` with symbolic ``j``, ``k`` and ``n`` (built once)."""
        return _built(self.build_jacobian_element)


def _softmax_vector(xs: list[sympy.Symbol], sign: int = 1) -> list[sympy.Expr]:
    total = sum(sympy.exp(sign * v) for v in xs)
    return [sympy.exp(sign * v) / total for v in xs]


def _log_softmax_vector(xs: list[sympy.Symbol]) -> list[sympy.Expr]:
    total = sympy.log(sum(sympy.exp(v) for v in xs))
    return [v - total for v in xs]


def _glu_vector(xs: list[sympy.Symbol]) -> list[sympy.Expr]:
    half = len(xs) // 2
    return [a * sigmoid(b) for a, b in zip(xs[:half], xs[half:])]


_M = sympy.Symbol("m", integer=True, positive=True)


def _share(sign: int, index: sympy.Expr) -> sympy.Expr:
    """``e^{±x_index} / Σ_m e^{±x_m}``, with its own summation index."""
    return sympy.exp(sign * X[index]) / sympy.Sum(sympy.exp(sign * X[_M]), (_M, 1, N))


AXIS_FUNCTIONS: dict[str, AxisFunction] = {
    "softmax": AxisFunction(
        "softmax", lambda: sympy.exp(X[J]) / _exp_sum(1),
        lambda: _share(1, J) * (sympy.KroneckerDelta(J, K) - _share(1, K)),
        _softmax_vector, _softmax, _softmax_vjp),
    "log_softmax": AxisFunction(
        "log_softmax", lambda: X[J] - sympy.log(_exp_sum(1), evaluate=False),
        lambda: sympy.KroneckerDelta(J, K) - _share(1, K),
        _log_softmax_vector, _log_softmax, _log_softmax_vjp),
    "softmin": AxisFunction(
        "softmin", lambda: sympy.exp(-X[J]) / _exp_sum(-1),
        lambda: -_share(-1, J) * (sympy.KroneckerDelta(J, K) - _share(-1, K)),
        lambda xs: _softmax_vector(xs, -1), _softmin, _softmin_vjp),
    "glu": AxisFunction(
        "glu", lambda: X[J] * sigmoid(X[J + N]),
        lambda: sympy.Piecewise(
            (sympy.KroneckerDelta(J, K) * sigmoid(X[J + N]), K <= N),
            (sympy.KroneckerDelta(J + N, K) * X[J] * sigmoid(X[J + N]) * sigmoid(-X[J + N]), True)),
        _glu_vector, _glu, _glu_vjp, output_size=lambda n: n // 2),
}


@functools.lru_cache(maxsize=None)
def _built(build: Callable[[], sympy.Expr]) -> sympy.Expr:
    return build()


class VectorExpression:
    """A vector-valued catalog entry, evaluated along an axis.

    Args:
        function: The :class:`AxisFunction`.
        name: The entry's name.
        category: Its category.
        metadata: Description, pros, cons, ...; stored read-only.
    """

    __slots__ = ("_function", "name", "category", "_metadata")

    def __init__(self, function: AxisFunction, *, name: str, category: str = "activation",
                 metadata: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_function", function)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "category", category)
        object.__setattr__(self, "_metadata", freeze(dict(metadata or {})))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (tried to set {key!r})")

    kind = "vector"
    trainable: tuple[str, ...] = ()
    variables = ("x",)
    params: Mapping[str, float] = freeze({})
    constraints: Mapping[str, Any] = freeze({})

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Description, pros, cons, ... (read-only)."""
        return self._metadata

    @property
    def symbolic_expr(self) -> sympy.Expr:
        """The textbook formula of the ``j``-th output, over ``x[1..n]``."""
        return self._function.textbook

    @property
    def latex(self) -> str:
        """LaTeX of the textbook formula."""
        return sympy.latex(self._function.textbook)

    def _repr_latex_(self) -> str:
        return rf"$\displaystyle \operatorname{{{self.name}}}(x)_j = {self.latex}$"

    def __str__(self) -> str:
        return f"{self.name}(x)_j = {self._function.textbook}"

    def __repr__(self) -> str:
        return f"<VectorExpression {self.name}(x, axis=-1)_j = {self._function.textbook}>"

    def eval(self, x: Any = None, axis: int = -1, **kwargs: Any) -> np.ndarray:
        """Evaluate along ``axis`` (max-shifted: no overflow for logits up to ±1e308).

        Raises:
            TypeError: ``x`` is missing, not real numbers, or a keyword is unknown.
        """
        if kwargs:
            raise TypeError(f"{self.name}() got unexpected keyword argument(s) {sorted(kwargs)} (valid: x, axis)")
        return self._function.forward(self._as_array(x), axis)

    __call__ = eval

    def vjp(self, x: Any, v: Any, axis: int = -1) -> np.ndarray:
        """The vector–Jacobian product ``vᵀ J(x)`` along ``axis`` (what backpropagation needs)."""
        x, v = self._as_array(x), self._as_array(v, "v")
        return self._function.vjp(x, v, axis)

    def jacobian(self, n: int | None = None) -> sympy.Basic:
        """The symbolic Jacobian: the element ``∂y_j/∂x_k``, or the explicit matrix for ``n`` inputs.

        Args:
            n: Number of inputs along the axis (even for glu); ``None`` for the element form.
        """
        if n is None:
            return self._function.jacobian_element
        if not isinstance(n, int) or n < 1 or self.name == "glu" and n % 2:
            raise ValueError(f"n must be a positive integer{' (even for glu)' if self.name == 'glu' else ''}, got {n!r}")
        xs = list(sympy.symbols(f"x1:{n + 1}", real=True))
        return sympy.Matrix(self._function.vector(xs)).jacobian(xs)

    def with_params(self, **values: float) -> VectorExpression:
        """Vector entries have no parameters; any name is an error."""
        if values:
            raise TypeError(f"{self.name} has no parameters; got {sorted(values)}")
        return self

    def properties(self) -> None:
        """Elementwise properties (range, monotonic, ...) do not apply to a vector-valued entry."""
        raise TypeError(f"{self.name} is vector-valued: its properties are described in its metadata")

    def plot(self, *args: Any, **kwargs: Any) -> None:
        """Vector-valued entries are not drawn as curves."""
        raise TypeError(f"{self.name} is vector-valued and is not plotted as a curve")

    def gradient(self, var: str | None = None) -> None:
        """Vector-valued entries have a Jacobian, not a gradient."""
        raise TypeError(f"{self.name} is vector-valued: use jacobian() for the symbolic Jacobian "
                        f"or vjp(x, v) for a vector-Jacobian product")

    def _as_array(self, value: Any, name: str = "x") -> np.ndarray:
        if value is None:
            raise TypeError(f"{self.name}(): missing variable {name!r}")
        if isinstance(value, (str, bytes, bool)):
            raise TypeError(f"{self.name}(): {name!r} must be real numbers, got {type(value).__name__}")
        array = np.asarray(value)
        if array.dtype.kind in "iub":
            if array.dtype.kind == "b":
                raise TypeError(f"{self.name}(): {name!r} must be real numbers, got booleans")
            array = array.astype(np.float64)
        if array.dtype.kind != "f":
            raise TypeError(f"{self.name}(): {name!r} must be real numbers, got dtype {array.dtype}")
        if array.ndim == 0:
            raise TypeError(f"{self.name}(): {name!r} must be an array with an axis to act along")
        return array


# --- cross-entropy over classes ---------------------------------------------------------------

Y = sympy.Symbol("y", integer=True, positive=True)


class ClassCrossEntropy:
    """``-log_softmax(logits)[target]`` along a class axis, with integer targets.

    Computed through the max-shifted log-softmax, so logits of ±1e4 neither overflow nor
    lose accuracy. ``reduction`` is ``"mean"`` by default (as in PyTorch), or ``"sum"``,
    ``"none"``.

    Examples:
        >>> import numpy as np
        >>> from mathforge import MathForge
        >>> xent = MathForge().get("cross_entropy")
        >>> xent.symbolic_expr
        log(Sum(exp(x[k]), (k, 1, n))) - x[y]
        >>> float(xent.eval(np.array([[1e4, 0.0]]), np.array([1])))
        10000.0
    """

    kind = "classes"
    variables = ("logits", "target")
    params: Mapping[str, float] = freeze({})
    constraints: Mapping[str, Any] = freeze({})
    trainable: tuple[str, ...] = ()
    __slots__ = ("name", "category", "_metadata", "reduction")

    def __init__(self, *, name: str, category: str = "loss", metadata: Mapping[str, Any] | None = None,
                 reduction: str = "mean") -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "category", category)
        object.__setattr__(self, "_metadata", freeze(dict(metadata or {})))
        object.__setattr__(self, "reduction", reduction)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (tried to set {key!r})")

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Description, pros, cons, ... (read-only)."""
        return self._metadata

    @property
    def symbolic_expr(self) -> sympy.Expr:
        """The loss of one sample with class ``y``: ``-x_y + log Σ_k e^{x_k}``."""
        return -X[Y] + sympy.log(_exp_sum(1), evaluate=False)

    @property
    def latex(self) -> str:
        """LaTeX of the formula."""
        return sympy.latex(self.symbolic_expr)

    def __repr__(self) -> str:
        return f"<ClassCrossEntropy {self.name}(logits, target, axis=-1) = {self.symbolic_expr}>"

    def gradient(self, var: str | None = None) -> sympy.Expr:
        """The symbolic gradient with respect to logit ``k``: ``softmax_k - δ_ky``."""
        if var not in (None, "logits"):
            raise TypeError(f"{self.name} is differentiated with respect to its logits only")
        return _share(1, K) - sympy.KroneckerDelta(K, Y)

    def gradient_logits(self, logits: Any, target: Any, axis: int = -1) -> np.ndarray:
        """Pointwise (per sample) gradient with respect to the logits: ``softmax(logits) - onehot(target)``."""
        logits, target = self._inputs(logits, target, axis)
        return _softmax(logits, axis) - self._one_hot(logits, target, axis)

    def eval(self, logits: Any = None, target: Any = None, axis: int = -1, reduction: str | None = None,
             **kwargs: Any) -> Any:
        """The loss per sample, reduced by ``reduction`` (default: the entry's, ``"mean"``)."""
        if kwargs:
            raise TypeError(f"{self.name}() got unexpected keyword argument(s) {sorted(kwargs)} "
                            "(valid: logits, target, axis, reduction)")
        reduction = self.reduction if reduction is None else reduction
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{self.name}: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
        logits, target = self._inputs(logits, target, axis)
        picked = np.sum(_log_softmax(logits, axis) * self._one_hot(logits, target, axis), axis=axis)
        losses = -picked
        if reduction == "none":
            return losses
        return losses.mean() if reduction == "mean" else losses.sum()

    __call__ = eval

    def properties(self) -> None:
        """Elementwise properties do not apply to a loss over classes."""
        raise TypeError(f"{self.name} acts over a class axis: its properties are described in its metadata")

    def plot(self, *args: Any, **kwargs: Any) -> None:
        """A loss over classes is not drawn as a curve."""
        raise TypeError(f"{self.name} acts over a class axis and is not plotted as a curve")

    def with_params(self, **values: float) -> ClassCrossEntropy:
        """No parameters; any name is an error."""
        if values:
            raise TypeError(f"{self.name} has no parameters; got {sorted(values)}")
        return self

    def _inputs(self, logits: Any, target: Any, axis: int) -> tuple[np.ndarray, np.ndarray]:
        if logits is None or target is None:
            missing = [n for n, v in (("logits", logits), ("target", target)) if v is None]
            raise TypeError(f"{self.name}(): missing variable(s) {', '.join(map(repr, missing))}")
        logits = VectorExpression._as_array(self, logits, "logits")
        target = np.asarray(target)
        if target.dtype.kind not in "iu":
            raise TypeError(f"{self.name}(): 'target' must be integer class indices, got dtype {target.dtype}")
        classes = logits.shape[axis]
        if target.size and (target.min() < 0 or target.max() >= classes):
            raise ValueError(f"{self.name}(): targets must lie in [0, {classes - 1}] (the class axis has {classes})")
        return logits, target

    @staticmethod
    def _one_hot(logits: np.ndarray, target: np.ndarray, axis: int) -> np.ndarray:
        moved = np.moveaxis(np.zeros_like(logits), axis, -1)
        np.put_along_axis(moved, np.expand_dims(np.broadcast_to(target, moved.shape[:-1]), -1), 1, axis=-1)
        return np.moveaxis(moved, -1, axis)
