"""``Expression``: one formula, symbolic and executable.

An Expression is immutable. It holds a SymPy expression, its variables in declared order,
its parameters with their current values, a name, a category and read-only metadata.
It evaluates through a NumPy kernel compiled once (parameters are kernel arguments, so
new parameter values never recompile), differentiates symbolically, and composes: called
with SymPy arguments it substitutes them, and arithmetic with numbers, SymPy expressions
or other Expressions gives a new Expression.

Examples:
    >>> from mathforge.symbols import symbol
    >>> x, alpha = symbol("x"), symbol("alpha")
    >>> import sympy
    >>> leaky = Expression(sympy.Piecewise((x, x > 0), (alpha * x, True)), ["x"], {"alpha": 0.01},
    ...                    name="leaky_relu")
    >>> leaky.eval(x=-5)
    -0.05
    >>> leaky.eval(-5, alpha=0.2)
    -1.0
    >>> leaky.gradient().eval(x=0.0)  # the PyTorch convention at the kink
    0.01
    >>> leaky.with_params(alpha=0.3)(-1.0)
    -0.3
    >>> (2 * leaky).eval(x=3.0)
    6.0
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy

from .compile import compile_fused, compile_kernel
from .constraints import Constraint
from .errors import ParameterError, UnknownNameError
from .frozen import freeze
from .rewrites import stabilize
from .symbols import symbol

#: Default points for ``check_gradient``: away from every kink of the catalog.
GRADIENT_CHECK_POINTS = (-2.7, -1.3, -0.6, -0.2, 0.3, 0.7, 1.4, 2.9)

#: Targets of ``Expression.rewrite``.
REWRITE_TARGETS: dict[str, Any] = {
    "exp": sympy.exp,
    "erf": sympy.erf,
    "erfc": sympy.erfc,
    "tanh": sympy.tanh,
    "log": sympy.log,
    "Piecewise": sympy.Piecewise,
    "Heaviside": sympy.Heaviside,
    "Abs": sympy.Abs,
}


class Expression:
    """A named formula with variables, parameters, metadata, a kernel and a derivative.

    Args:
        expr: The SymPy expression; its symbols must be the registry's real symbols.
        variables: Variable names in call order.
        params: Parameter names and current values, in declared order.
        name: The name shown in messages and representations.
        category: ``"activation"``, ``"loss"``, ``"custom"``, ...
        metadata: Description, pros, cons, ...; stored as a read-only deep copy.
        constraints: Parameter constraints, e.g. ``{"beta": "> 0"}``.

    Raises:
        TypeError: A free symbol of ``expr`` is neither a variable nor a parameter.
    """

    __slots__ = ("_expr", "_variables", "_symbols", "_params", "_param_values", "name", "category",
                 "_metadata", "_constraints", "_kernel", "_reduction", "_fused", "_math_kernel")

    def __init__(self, expr: sympy.Basic, variables: Iterable[str], params: Mapping[str, float] | None = None,
                 *, name: str = "expression", category: str = "custom",
                 metadata: Mapping[str, Any] | None = None,
                 constraints: Mapping[str, str | Constraint] | None = None,
                 reduction: str | None = None) -> None:
        expr = sympy.sympify(expr) if isinstance(expr, numbers.Number) else expr
        if not isinstance(expr, sympy.Expr):
            raise TypeError(f"an Expression needs a SymPy expression, not {type(expr).__name__}")
        variables = tuple(str(v) for v in variables)
        params = {str(k): _parameter_value(k, v) for k, v in (params or {}).items()}
        overlap = set(variables) & set(params)
        if overlap or len(set(variables)) != len(variables):
            raise TypeError(f"{name}: names used twice among variables and parameters: "
                            f"{sorted(overlap) or variables}")
        declared = {symbol(n) for n in (*variables, *params)}
        undeclared = expr.free_symbols - declared
        if undeclared:
            raise TypeError(f"{name}: free symbols {sorted(map(str, undeclared))} are neither variables "
                            f"{list(variables)} nor parameters {list(params)}")
        set_ = object.__setattr__
        set_(self, "_expr", expr)
        set_(self, "_variables", variables)
        set_(self, "_symbols", tuple(symbol(n) for n in (*variables, *params)))
        set_(self, "_params", MappingProxyType(params))
        set_(self, "_param_values", tuple(params.values()))
        set_(self, "name", name)
        set_(self, "category", category)
        set_(self, "_metadata", freeze(dict(metadata or {})))
        set_(self, "_constraints", MappingProxyType({
            k: c if isinstance(c, Constraint) else Constraint.parse(c) for k, c in (constraints or {}).items()}))
        set_(self, "_kernel", None)
        set_(self, "_fused", {})
        set_(self, "_math_kernel", None)
        set_(self, "_reduction", _check_reduction(reduction, name) if reduction is not None else None)
        for key, constraint in self._constraints.items():
            if key in params:
                constraint.check(key, params[key], params)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Expression is immutable; use with_params() or build a new one (tried to set {key!r})")

    #: Elementwise (this class) or ``"vector"`` (:class:`~mathforge.vector.VectorExpression`).
    kind = "elementwise"

    # --- what it is ---------------------------------------------------------------------

    @property
    def symbolic_expr(self) -> sympy.Expr:
        """The SymPy expression."""
        return self._expr

    @property
    def variables(self) -> tuple[str, ...]:
        """Variable names, in call order."""
        return self._variables

    @property
    def params(self) -> Mapping[str, float]:
        """Parameter names and current values (read-only)."""
        return self._params

    @property
    def reduction(self) -> str | None:
        """The default reduction of a loss (``"mean"``, ``"sum"``, ``"none"``); ``None`` if it has none."""
        return self._reduction

    @property
    def trainable(self) -> tuple[str, ...]:
        """Names of the parameters marked ``trainable`` in the catalog (PReLU's ``alpha``)."""
        spec = self._metadata.get("params", {})
        return tuple(k for k in self._params if spec.get(k, {}).get("trainable", False))

    @property
    def constraints(self) -> Mapping[str, Constraint]:
        """Parameter constraints (read-only)."""
        return self._constraints

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Description, pros, cons, range, ... as a read-only mapping."""
        return self._metadata

    @property
    def latex(self) -> str:
        """LaTeX of the formula."""
        return sympy.latex(self._expr)

    def _repr_latex_(self) -> str:
        args = ", ".join(self._variables)
        return rf"$\displaystyle \operatorname{{{_latex_name(self.name)}}}\left({args}\right) = {self.latex}$"

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self._variables)}) = {self._expr}"

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self._params.items())
        return f"<Expression {self.name}({', '.join(self._variables)}{params}) = {self._expr}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return (self._expr, self._variables, dict(self._params)) == (
            other._expr, other._variables, dict(other._params))

    def __hash__(self) -> int:
        return hash((self._expr, self._variables, tuple(self._params.items())))

    def _replace(self, expr: sympy.Basic | None = None, **changes: Any) -> Expression:
        """A copy with some fields changed (the one place new Expressions are derived)."""
        fields = {"variables": self._variables, "params": self._params, "name": self.name,
                  "category": self.category, "metadata": self._metadata, "constraints": self._constraints,
                  "reduction": self._reduction}
        fields.update(changes)
        return Expression(self._expr if expr is None else expr, **fields)

    # --- numbers ------------------------------------------------------------------------

    def kernel(self) -> Callable[..., Any]:
        """The compiled NumPy kernel, ``kernel(*variables, *params)``; compiled on first use."""
        kernel = self._kernel
        if kernel is None:
            kernel = compile_kernel(self._expr, self._symbols[: len(self._variables)],
                                    self._symbols[len(self._variables):], self._param_values)
            object.__setattr__(self, "_kernel", kernel)
            object.__setattr__(self, "_math_kernel", getattr(kernel, "scalar", None))
        return kernel

    def eval(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate at numbers or arrays.

        Variables bind by position (declared order) or by name; a parameter may be
        overridden by name for this call only.

        Args:
            *args: Variable values, in declared order.
            **kwargs: Variable values and parameter overrides, by name.

        Returns:
            A Python ``float`` if every input is a Python or NumPy scalar of Python type,
            else an ``ndarray`` broadcast over the inputs whose dtype is the inputs'
            floating dtype (float32 stays float32; integers give float64).

        Raises:
            TypeError: A variable is missing, a keyword is unknown, or an input is not
                real-valued numeric data.
            ParameterError: A parameter override violates its constraint.
        """
        if not args and len(kwargs) == len(self._variables):  # the hot path: finite floats by name
            fast = self._math_kernel
            if fast is not None:
                try:
                    values = [kwargs[v] for v in self._variables]
                except KeyError:  # a parameter or an unknown name among them: the full binding says which
                    values = [None]
                for value in values:
                    if type(value) is not float or value - value != 0.0:  # not a finite Python float
                        break
                else:
                    try:
                        result = fast(*values, *self._param_values)
                    except (ArithmeticError, ValueError):
                        pass  # e.g. math.exp overflowed: the NumPy kernel gives the IEEE answer
                    else:
                        if result == result:
                            return float(result)
        args, values, params, scalar, reduction = self._inputs(args, kwargs)
        kernel = self.kernel()
        if scalar:
            return _scalar_call(kernel, values, params)
        output = _as_output_array(kernel(*values, *params), values)
        if reduction in ("mean", "sum"):
            return output.mean() if reduction == "mean" else output.sum()  # a NumPy scalar, dtype kept
        return _numpy_scalar_if_scalars(output, args)

    def value_and_grad(self, *args: Any, wrt: str | sympy.Symbol | None = None, **kwargs: Any) -> tuple[Any, Any]:
        """The value and the derivative by ``wrt`` in one call (for training loops).

        Array inputs go through one fused kernel that computes shared subexpressions once;
        each result equals what ``eval`` and ``gradient(wrt).eval`` return. For a loss, the
        value is reduced (``reduction=``, default the loss's own) and the gradient is that
        of the reduced value with respect to each element of the broadcast inputs: the
        pointwise derivative divided by the number of elements for ``"mean"``, as is for
        ``"sum"`` and ``"none"``.

        Args:
            *args: Variable values, in declared order.
            wrt: The variable or parameter to differentiate by (default: the first variable).
            **kwargs: Variable values, parameter overrides and, for a loss, ``reduction``.

        Returns:
            ``(value, gradient)``, each typed as ``eval`` types its result.

        Examples:
            >>> from mathforge.symbols import symbol
            >>> from mathforge.primitives import softplus
            >>> x = symbol("x")
            >>> Expression(softplus(x), ["x"], name="softplus").value_and_grad(x=0.0)
            (0.6931471805599453, 0.5)
        """
        args, values, params, scalar, reduction = self._inputs(args, kwargs)
        target = self._symbol_for(wrt)
        cached = self._fused.get(target)
        if cached is None:
            gradient = self.gradient(target)
            variables, parameters = self._symbols[: len(self._variables)], self._symbols[len(self._variables):]
            cached = (gradient, compile_fused((self._expr, gradient._expr), variables, parameters,
                                              self._param_values))
            self._fused[target] = cached
        gradient, fused = cached
        if scalar:
            return _scalar_call(self.kernel(), values, params), _scalar_call(gradient.kernel(), values, params)
        value, slope = (_as_output_array(r, values) for r in fused(*values, *params))
        if np.may_share_memory(value, slope):  # exp's value is its derivative: two arrays, not one
            slope = slope.copy()
        if reduction == "mean":
            return value.mean(), slope / slope.dtype.type(max(slope.size, 1))
        if reduction == "sum":
            return value.sum(), slope
        return _numpy_scalar_if_scalars(value, args), _numpy_scalar_if_scalars(slope, args)

    def _inputs(self, args: Sequence[Any], kwargs: Mapping[str, Any]):
        """Bound and checked inputs: ``(args, values, params, all_python_scalars, reduction)``."""
        reduction = self._reduction
        if kwargs and "reduction" in kwargs and reduction is not None:
            kwargs = dict(kwargs)
            reduction = _check_reduction(kwargs.pop("reduction"), self.name)
        if not args and len(kwargs) == len(self._variables):  # the common call: every variable by name
            try:
                args, params = [kwargs[v] for v in self._variables], self._param_values
            except KeyError:  # a parameter or an unknown name among them: the full binding says which
                args, params = self._bind(args, kwargs)
        elif kwargs or len(args) != len(self._variables):
            args, params = self._bind(args, kwargs)
        else:
            params = self._param_values
        values = []
        scalar = True
        for name, value in zip(self._variables, args):
            kind = type(value)
            if kind is float:
                values.append(value)
            elif kind is int:
                values.append(float(value))
            else:
                values.append(_as_real_array(name, value))
                scalar = False
        return args, values, params, scalar, reduction

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``eval`` for numbers and arrays; composition for SymPy arguments or Expressions.

        Examples:
            >>> from mathforge.symbols import symbol
            >>> from mathforge.primitives import sigmoid
            >>> x = symbol("x")
            >>> sig = Expression(sigmoid(x), ["x"], name="sigmoid")
            >>> sig(0.0)
            0.5
            >>> sig(2 * x)
            <Expression sigmoid(2*x)(x) = sigmoid(2*x)>
        """
        symbolic = [v for v in (*args, *kwargs.values()) if isinstance(v, (sympy.Basic, Expression))]
        if symbolic:
            return self.compose(*args, **kwargs)
        return self.eval(*args, **kwargs)

    def _bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], tuple[float, ...]]:
        """Bind positional and keyword arguments to variables and parameters, strictly."""
        if len(args) > len(self._variables):
            raise TypeError(f"{self.name}() takes {len(self._variables)} positional argument(s) "
                            f"({', '.join(self._variables)}) but {len(args)} were given")
        values = dict(zip(self._variables, args))
        overrides = {}
        unknown = []
        for key, value in kwargs.items():
            if key in self._params:
                overrides[key] = value
            elif key in self._variables:
                if key in values:
                    raise TypeError(f"{self.name}() got multiple values for variable {key!r}")
                values[key] = value
            else:
                unknown.append(key)
        missing = [v for v in self._variables if v not in values]
        if unknown or missing:
            problems = []
            if missing:
                problems.append(f"missing variable(s) {', '.join(map(repr, missing))}")
            if unknown:
                problems.append(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}")
            valid = f"variables: {', '.join(self._variables) or '(none)'}"
            if self._params:
                valid += f"; parameters: {', '.join(self._params)}"
            raise TypeError(f"{self.name}(): {' and '.join(problems)} ({valid})")
        params = self._param_values
        if overrides:
            merged = dict(self._params)
            merged.update({k: _parameter_value(k, v) for k, v in overrides.items()})
            self._check_constraints(merged)
            params = tuple(merged.values())
        return [values[v] for v in self._variables], params

    def _check_constraints(self, params: Mapping[str, float]) -> None:
        for key, constraint in self._constraints.items():
            constraint.check(key, params[key], params)

    def with_params(self, **values: float) -> Expression:
        """A new Expression with some parameter values changed.

        Raises:
            TypeError: A name is not a parameter.
            ParameterError: A value violates its constraint.
        """
        unknown = [k for k in values if k not in self._params]
        if unknown:
            raise TypeError(f"{self.name}: unknown parameter(s) {', '.join(map(repr, unknown))} "
                            f"(parameters: {', '.join(self._params) or '(none)'})")
        merged = dict(self._params)
        merged.update({k: _parameter_value(k, v) for k, v in values.items()})
        return self._replace(params=merged)

    # --- calculus -----------------------------------------------------------------------

    def _symbol_for(self, var: str | sympy.Symbol | None) -> sympy.Symbol:
        if var is None:
            if not self._variables:
                raise TypeError(f"{self.name} has no variables to differentiate by")
            return self._symbols[0]
        name = str(var)
        if name not in self._variables and name not in self._params:
            raise UnknownNameError(name, (*self._variables, *self._params), kind="variable or parameter")
        return symbol(name)

    def gradient(self, var: str | sympy.Symbol | None = None) -> Expression:
        """The symbolic derivative by a variable or parameter (default: the first variable).

        Examples:
            >>> from mathforge.symbols import symbol
            >>> from mathforge.primitives import sigmoid
            >>> x = symbol("x")
            >>> Expression(x * sigmoid(x), ["x"], name="swish").gradient()
            <Expression dswish/dx(x) = x*sigmoid(-x)*sigmoid(x) + sigmoid(x)>
        """
        target = self._symbol_for(var)
        return self._replace(stabilize(sympy.diff(self._expr, target)), name=f"d{self.name}/d{target}", reduction=None,
                             metadata={"derivative_of": self.name, "with_respect_to": str(target)})

    def derivative(self, n: int = 1, var: str | sympy.Symbol | None = None) -> Expression:
        """The ``n``-th derivative by ``var`` (default: the first variable)."""
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"derivative order must be a non-negative integer, got {n!r}")
        target = self._symbol_for(var)
        if n == 0:
            return self
        suffix = "" if n == 1 else f"^{n}"
        expr = self._expr
        for _ in range(int(n)):  # one order at a time, so every step is stabilised
            expr = stabilize(sympy.diff(expr, target))
        return self._replace(expr, name=f"d{suffix}{self.name}/d{target}{suffix}", reduction=None,
                             metadata={"derivative_of": self.name, "with_respect_to": str(target), "order": int(n)})

    def check_gradient(self, var: str | sympy.Symbol | None = None,
                       points: Sequence[float] = GRADIENT_CHECK_POINTS) -> float:
        """Worst disagreement between the symbolic derivative and finite differences.

        A fourth-order central difference with step ``1e-3*max(1, |x|)`` is taken at each
        point (other variables at the same points); the error at a point is
        ``|fd - exact| / max(1, |exact|)``.

        Returns:
            The largest error over the points (about 1e-11 for a correct smooth derivative).
        """
        target = self._symbol_for(var)
        name = str(target)
        grid = np.asarray(points, dtype=np.float64)
        inputs = {v: grid for v in self._variables}
        base = dict(self._params)
        exact = np.broadcast_to(self.gradient(name).eval(**inputs), grid.shape)
        h = 1e-3 * np.maximum(1.0, np.abs(grid))
        pointwise = {"reduction": "none"} if self._reduction is not None else {}  # a loss: no mean

        def shifted(k: float) -> np.ndarray:
            if name in self._params:  # a parameter: shift it per point
                return np.array([self.eval(**{v: g for v in self._variables}, **{name: base[name] + k * s})
                                 for g, s in zip(grid, h)])
            return np.asarray(self.eval(**{**inputs, name: grid + k * h}, **pointwise))

        finite = (-shifted(2) + 8 * shifted(1) - 8 * shifted(-1) + shifted(-2)) / (12 * h)
        return float(np.max(np.abs(finite - exact) / np.maximum(1.0, np.abs(exact))))

    # --- learning aids ---------------------------------------------------------------------

    def properties(self):
        """Properties computed from the formula: range, monotonic, smoothness, max |f'|, ...

        Returns:
            A :class:`mathforge.properties.Properties` (``to_dict()`` for JSON).
        """
        from .properties import compute_properties

        return compute_properties(self)

    def plot(self, x_range: tuple[float, float] = (-5.0, 5.0), **options: Any):
        """The function (blue) and its derivative (red) with kinks marked; needs ``mathforge[plot]``.

        Returns:
            The matplotlib Figure (save it with :func:`mathforge.plotting.save_figure`).
        """
        from .plotting import plot_expression

        return plot_expression(self, x_range, **options)

    # --- forms --------------------------------------------------------------------------

    def simplify(self) -> Expression:
        """A new Expression with ``sympy.simplify`` applied to the formula."""
        return self._replace(sympy.simplify(self._expr))

    def rewrite(self, target: str) -> Expression:
        """The formula rewritten in terms of ``target`` (``"exp"``: primitives expanded).

        Examples:
            >>> from mathforge.symbols import symbol
            >>> from mathforge.primitives import sigmoid
            >>> x = symbol("x")
            >>> Expression(x * sigmoid(x), ["x"]).rewrite("exp").symbolic_expr
            x/(1 + exp(-x))
        """
        if target not in REWRITE_TARGETS:
            raise ValueError(f"cannot rewrite in terms of {target!r}; choose one of {', '.join(REWRITE_TARGETS)}")
        return self._replace(self._expr.rewrite(REWRITE_TARGETS[target]))

    # --- composition --------------------------------------------------------------------

    def compose(self, *args: Any, **kwargs: Any) -> Expression:
        """Substitute SymPy expressions (or Expressions) for variables.

        Positional arguments replace variables in declared order, keywords by name; a
        variable not given stays as it is. Numbers given for parameters set them. The
        result's variables are the old ones not replaced, then the new symbols in order of
        first appearance (within one argument, by name).
        """
        if len(args) > len(self._variables):
            raise TypeError(f"{self.name}() takes {len(self._variables)} argument(s) but {len(args)} were given")
        mapping: dict[str, Any] = dict(zip(self._variables, args))
        param_values = {}
        for key, value in kwargs.items():
            if key in self._params and not isinstance(value, (sympy.Basic, Expression)):
                param_values[key] = value
            elif key in self._variables and key not in mapping:
                mapping[key] = value
            else:
                raise TypeError(f"{self.name}(): unexpected argument {key!r} (variables: "
                                f"{', '.join(self._variables)}; parameters: {', '.join(self._params) or '(none)'})")
        params = dict(self._params)
        params.update({k: _parameter_value(k, v) for k, v in param_values.items()})
        constraints = dict(self._constraints)
        substitutions = {}
        variables: list[str] = [v for v in self._variables if v not in mapping]
        for key, value in mapping.items():
            if isinstance(value, Expression):
                params = _merge_params(params, value._params, self.name, value.name)
                constraints.update(value._constraints)
                new_names = list(value._variables)
                value = value._expr
            else:
                value = sympy.sympify(value) if isinstance(value, numbers.Number) else value
                if not isinstance(value, sympy.Expr):
                    raise TypeError(f"cannot substitute {type(value).__name__} for {key!r}")
                new_names = sorted(str(s) for s in value.free_symbols if str(s) not in params)
            substitutions[symbol(key)] = value
            variables.extend(n for n in new_names if n not in variables)
        expr = self._expr.xreplace(substitutions)
        shown = ", ".join(str(mapping.get(v, v)) if not isinstance(mapping.get(v), Expression)
                          else mapping[v].name for v in self._variables)
        return Expression(expr, variables, params, name=f"{self.name}({shown})", category=self.category,
                          constraints={k: c for k, c in constraints.items() if k in params},
                          reduction=self._reduction)

    # --- arithmetic: one helper for every operator ----------------------------------------

    def _combine(self, other: Any, op: Callable[[Any, Any], Any], symbol_text: str, reflected: bool) -> Expression:
        if isinstance(other, Expression):
            if self._variables and other._variables and set(self._variables) != set(other._variables):
                raise TypeError(f"cannot combine {self.name}({', '.join(self._variables)}) with "
                                f"{other.name}({', '.join(other._variables)}): their inputs differ; map one onto "
                                f"the other's inputs first, e.g. {other.name}({', '.join(f'{v}=...' for v in other._variables)}) "
                                "with symbolic arguments")
            params = _merge_params(self._params, other._params, self.name, other.name)
            constraints = {**self._constraints, **other._constraints}
            other_expr, other_name, other_vars = other._expr, other.name, other._variables
        elif isinstance(other, (numbers.Real, sympy.Expr)) and not isinstance(other, bool):
            other_expr = sympy.sympify(other)
            params, constraints = dict(self._params), dict(self._constraints)
            other_name = str(other_expr)
            other_vars = tuple(sorted(str(s) for s in other_expr.free_symbols if str(s) not in params))
        else:
            return NotImplemented
        clash = set(other_vars) & set(params)
        if clash:
            raise TypeError(f"{sorted(clash)} is a parameter of one operand and a variable of the other")
        left, right = (other_expr, self._expr) if reflected else (self._expr, other_expr)
        left_name, right_name = (other_name, self.name) if reflected else (self.name, other_name)
        first, second = (other_vars, self._variables) if reflected else (self._variables, other_vars)
        variables = list(dict.fromkeys((*first, *second)))
        return Expression(op(left, right), variables, params, name=f"({left_name} {symbol_text} {right_name})",
                          category=self.category if self.category == getattr(other, "category", self.category)
                          else "custom", constraints=constraints,
                          reduction=self._reduction or getattr(other, "_reduction", None))

    def __neg__(self) -> Expression:
        return self._replace(-self._expr, name=f"-{self.name}", metadata={})

    def __pos__(self) -> Expression:
        return self


def _binary(op: Callable[[Any, Any], Any], text: str, reflected: bool) -> Callable[[Expression, Any], Any]:
    def method(self: Expression, other: Any) -> Any:
        return self._combine(other, op, text, reflected)

    method.__name__ = f"__{'r' if reflected else ''}{op.__name__.strip('_')}__"
    method.__doc__ = f"``{'other' if reflected else 'self'} {text} {'self' if reflected else 'other'}`` as an Expression."
    return method


for _op, _text in ((operator.add, "+"), (operator.sub, "-"), (operator.mul, "*"),
                   (operator.truediv, "/"), (operator.pow, "**")):
    _name = _op.__name__.strip("_")
    setattr(Expression, f"__{_name}__", _binary(_op, _text, reflected=False))
    setattr(Expression, f"__r{_name}__", _binary(_op, _text, reflected=True))


# --- helpers --------------------------------------------------------------------------------


#: The reductions a loss accepts.
REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any, name: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, REDUCTIONS))}, not {reduction!r}")
    return reduction


def _latex_name(name: str) -> str:
    return name.replace("_", r"\_")


def _parameter_value(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"parameter {name!r} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ParameterError(f"parameter {name!r} must not be NaN")
    return value


def _merge_params(left: Mapping[str, float], right: Mapping[str, float], left_name: str,
                  right_name: str) -> dict[str, float]:
    merged = dict(left)
    for key, value in right.items():
        if key in merged and merged[key] != value:
            raise ParameterError(f"parameter {key!r} is {merged[key]!r} in {left_name} but {value!r} in "
                                 f"{right_name}; set one with with_params() before combining")
        merged[key] = value
    return merged


def _scalar_call(kernel: Callable[..., Any], values: Sequence[float], params: Sequence[float]) -> float:
    """A kernel at Python floats: the ``math`` kernel where it can, else the NumPy one."""
    fast = getattr(kernel, "scalar", None)
    if fast is not None and all(map(math.isfinite, values)):
        try:
            result = float(fast(*values, *params))
        except (ArithmeticError, ValueError):
            pass  # e.g. math.exp overflowed: NumPy gives the IEEE answer
        else:
            if result == result:  # a NaN from finite input: let the guarded kernel decide
                return result
    return float(kernel(*values, *params))


def _numpy_scalar_if_scalars(output: np.ndarray, args: Sequence[Any]) -> Any:
    """NumPy scalars in, a NumPy scalar of the same dtype out; else the array."""
    if output.ndim == 0 and all(type(v) in (float, int) or isinstance(v, np.generic) for v in args):
        return output[()]
    return output


def _as_real_array(name: str, value: Any) -> np.ndarray:
    """The input as a real floating array (integers become float64); else ``TypeError``."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise TypeError(f"variable {name!r} must be real numbers, got {type(value).__name__} {value!r}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"variable {name!r} must be real numbers: {exc}") from None
    kind = array.dtype.kind
    if kind == "f":
        return array
    if kind in "iu":
        return array.astype(np.float64)
    raise TypeError(f"variable {name!r} must be real numbers, got an array of dtype {array.dtype}")


def _as_output_array(result: Any, inputs: Sequence[Any]) -> Any:
    """Broadcast ``result`` to the inputs' shape and floating dtype (constants, int branches)."""
    arrays = [np.asarray(v) for v in inputs]
    dtype = np.result_type(*[a.dtype for a in arrays]) if arrays else np.dtype(np.float64)
    shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
    result = np.asarray(result)
    if result.shape != shape:
        result = np.broadcast_to(result, shape)
    if result.dtype != dtype or not result.flags.writeable:
        result = result.astype(dtype)
    elif any(type(v) is np.ndarray and np.may_share_memory(result, v) for v in inputs):
        result = result.copy()  # linear(x) is x: writing into the result must not change the input
    return result
