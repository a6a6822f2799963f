"""SymPy expression to a cached NumPy kernel.

One function, :func:`compile_kernel`, turns an expression into a Python function of
``(*variables, *params)``; parameters are arguments, so a new parameter value never
recompiles. The printer makes the generated code safe and fast:

* numeric constants are folded at 30 digits and printed as Python floats, so ``sqrt(2/pi)``
  costs nothing per call and, being a weak Python scalar, keeps float32 arrays float32;
* small integer powers become products (``x**3`` is ``x*x*x``);
* ``Max``/``Min`` become ``numpy.maximum``/``numpy.minimum`` (which propagate NaN);
* ``Piecewise`` becomes nested ``numpy.where``. The branch not taken is still computed by
  ``where``, so a branch that could overflow is evaluated on its variables clamped to its
  own domain (ELU's ``expm1(x)`` branch, active for ``x <= 0``, is evaluated at
  ``min(x, 0)``: ``elu(1e4)`` never computes ``expm1(1e4)``);
* the project's primitives call their stable kernels; ``erf``/``erfc`` call SciPy, which is
  imported only when a kernel needs it.

After compiling, a one-variable kernel is probed at ``+inf``, ``-inf`` and ``nan`` under
``np.errstate(all="raise")``. Where the plain code would give NaN or raise at an
infinity (``x*sigmoid(x)`` at ``-inf`` is ``-inf*0``), the kernel evaluates the finite
part safely and returns the exact limit, computed by SymPy. Where NaN input would give a
number (the constant branches of ``relu'``), the kernel returns NaN.

Examples:
    >>> import numpy as np
    >>> from mathforge.symbols import symbol
    >>> from mathforge.primitives import sigmoid
    >>> x = symbol("x")
    >>> kernel = compile_kernel(x * sigmoid(x), (x,), ())
    >>> kernel(np.array([-np.inf, 0.0, 1.0, np.inf, np.nan]))
    array([0.        , 0.        , 0.73105858,        inf,        nan])
    >>> print(kernel_source(x * sigmoid(x), (x,), ()))
    def _lambdifygenerated(x):
        return x*mf_sigmoid(x)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.utilities.lambdify import lambdify

from .primitives import NUMPY_KERNELS, PRIMITIVES

#: Digits used to fold constant subexpressions before rounding them to float64.
FOLD_DIGITS = 30
#: SymPy functions that print as a call to ``scipy.special``.
_SCIPY_FUNCTIONS = {sympy.erf: "erf", sympy.erfc: "erfc"}
_PRIMITIVE_TYPES = tuple(PRIMITIVES.values())
#: Largest integer power written out as a product.
_MAX_PRODUCT_POWER = 4

Kernel = Callable[..., object]


def fold_constants(expr: sympy.Basic) -> sympy.Basic:
    """Replace every constant subexpression by its value, a Float correct to 30 digits.

    Examples:
        >>> from mathforge.symbols import symbol
        >>> x = symbol("x")
        >>> fold_constants(sympy.sqrt(2 / sympy.pi) * x + sympy.Rational(1, 3))
        0.797884560802865355879892119869*x + 0.333333333333333333333333333333
    """
    if not isinstance(expr, sympy.Basic) or expr.is_Atom and not expr.is_number:
        return expr
    if expr.is_Integer or expr is sympy.true or expr is sympy.false:
        return expr
    if expr.is_number and isinstance(expr, sympy.Expr):
        value = expr.evalf(FOLD_DIGITS)
        return value if value.is_Float else expr
    if expr.is_Atom:
        return expr
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        constants = [a for a in expr.args if a.is_number]
        others = [fold_constants(a) for a in expr.args if not a.is_number]
        if constants:
            folded = fold_constants(expr.func(*constants))
            if not (expr.is_Mul and folded == 1) and not (expr.is_Add and folded == 0):
                others.insert(0, folded)
        return expr.func(*others, evaluate=False) if len(others) > 1 else others[0]
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer:
        return sympy.Pow(fold_constants(expr.base), expr.exp, evaluate=False)
    return expr.func(*[fold_constants(a) for a in expr.args])


class _KernelPrinter(NumPyPrinter):
    """NumPy printer with folded constants, safe Piecewise branches and stable primitives."""

    def __init__(self, variables: Sequence[sympy.Symbol]) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
        self.variables = tuple(variables)
        self.scipy_names: set[str] = set()

    # numbers: Python literals (weak scalars keep float32 arrays float32)
    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        return str(int(expr))

    def _print_NumberSymbol(self, expr):
        return repr(float(expr))

    _print_Exp1 = _print_Pi = _print_NumberSymbol

    def _print_Infinity(self, expr):
        return "numpy.inf"

    def _print_NegativeInfinity(self, expr):
        return "(-numpy.inf)"

    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.args
        if exponent.is_Integer and 0 < abs(int(exponent)) <= _MAX_PRODUCT_POWER:
            factor = self.parenthesize(base, sympy.printing.precedence.PRECEDENCE["Mul"])
            product = "*".join([factor] * abs(int(exponent)))
            if abs(int(exponent)) > 1:
                product = f"({product})"  # a whole factor, even behind a '/' printed by the Mul
            return product if exponent > 0 else f"(1/{product})"
        if exponent == sympy.S.Half:
            return f"numpy.sqrt({self._print(base)})"
        if exponent == -sympy.S.Half:
            return f"1/numpy.sqrt({self._print(base)})"
        return f"numpy.power({self._print(base)}, {self._print(exponent)})"

    def _print_Max(self, expr):
        return functools.reduce(lambda a, b: f"numpy.maximum({a}, {b})", [self._print(a) for a in expr.args])

    def _print_Min(self, expr):
        return functools.reduce(lambda a, b: f"numpy.minimum({a}, {b})", [self._print(a) for a in expr.args])

    def _print_Function(self, expr):
        if isinstance(expr, _PRIMITIVE_TYPES):
            return f"{type(expr)._kernel_name}({self._print(expr.args[0])})"
        for function, name in _SCIPY_FUNCTIONS.items():
            if isinstance(expr, function):
                self.scipy_names.add(name)
                return f"{name}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)

    _print_erf = _print_erfc = _print_Function

    def _print_Piecewise(self, expr):
        pieces = list(expr.args)
        earlier: list[sympy.Basic] = []
        printed = []
        for value, condition in pieces:
            domain = sympy.And(condition, *[sympy.Not(c) for c in earlier])
            printed.append((self._print(_clamped_to(value, domain, self.variables)), condition))
            earlier.append(condition)
        if printed[-1][1] is sympy.true:
            code = printed.pop()[0]
        else:
            code = "numpy.nan"
        for value_code, condition in reversed(printed):
            code = f"numpy.where({self._print(condition)}, {value_code}, {code})"
        return code


def _needs_guard(value: sympy.Basic) -> bool:
    """Whether a Piecewise branch may overflow or be undefined outside its own domain."""
    if value.has(sympy.Function):
        return True
    return any(p.exp.is_negative or not p.exp.is_Integer for p in value.atoms(sympy.Pow))


def _clamped_to(value: sympy.Basic, domain: sympy.Basic, variables: Sequence[sympy.Symbol]) -> sympy.Basic:
    """``value`` with each variable clamped to the bounds that ``domain`` puts on it.

    Only simple bounds (``x > b``, ``x <= b`` with ``b`` free of ``x``) are used; a branch
    whose domain has none is returned unchanged.
    """
    if not _needs_guard(value):
        return value
    atoms = domain.args if isinstance(domain, sympy.And) else (domain,)
    replacements = {}
    for var in variables:
        if var not in value.free_symbols:
            continue
        clamped = var
        for atom in atoms:
            if not isinstance(atom, sympy.core.relational.Relational):
                continue
            lhs, rhs, op = atom.lhs, atom.rhs, atom.rel_op
            if rhs == var and var not in lhs.free_symbols:
                lhs, rhs, op = rhs, lhs, {">": "<", ">=": "<=", "<": ">", "<=": ">="}[op]
            if lhs != var or var in rhs.free_symbols:
                continue
            if op in (">", ">="):
                clamped = sympy.Max(clamped, rhs, evaluate=False)
            elif op in ("<", "<="):
                clamped = sympy.Min(clamped, rhs, evaluate=False)
        if clamped is not var:
            replacements[var] = clamped
    return value.xreplace(replacements) if replacements else value


def _namespace(scipy_names: set[str]) -> dict[str, object]:
    namespace: dict[str, object] = {"numpy": np, **NUMPY_KERNELS}
    if scipy_names:
        import scipy.special  # deferred: ~0.2 s, paid only by kernels that need it

        namespace.update({name: getattr(scipy.special, name) for name in scipy_names})
    return namespace


def _lambdify(expr: sympy.Basic, arguments: Sequence[sympy.Symbol]) -> tuple[Kernel, str]:
    printer = _KernelPrinter(arguments)
    folded = fold_constants(expr)
    source = printer.doprint(folded)  # first pass collects the SciPy names it needs
    function = lambdify(list(arguments), folded, modules=[_namespace(printer.scipy_names)],
                        printer=_KernelPrinter(arguments), docstring_limit=0)
    return function, source


_CACHE: dict[tuple[sympy.Basic, tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...]], Kernel] = {}
_CACHE_LIMIT = 4096


def compile_kernel(expr: sympy.Basic, variables: tuple[sympy.Symbol, ...], params: tuple[sympy.Symbol, ...] = (),
                   probe_params: tuple[float, ...] | None = None) -> Kernel:
    """The cached NumPy kernel of ``expr``, called as ``kernel(*variables, *params)``.

    The cache key is the expression and its argument symbols, not parameter values: an
    expression compiles once, whatever values its parameters take later.

    Args:
        expr: The SymPy expression.
        variables: Its variables, in call order.
        params: Its parameters, in call order (after the variables).
        probe_params: Parameter values used to probe the kernel at ``±inf`` and ``nan``
            on first compilation (the defaults); ``1.0`` for each parameter if not given.

    Returns:
        A function of NumPy arrays or Python floats.
    """
    key = (expr, tuple(variables), tuple(params))
    kernel = _CACHE.get(key)
    if kernel is None:
        if probe_params is None:
            probe_params = (1.0,) * len(params)
        core, _ = _lambdify(expr, key[1] + key[2])
        kernel = core
        if len(variables) == 1:
            kernel = _guard_special_values(expr, key[1][0], key[2], core, tuple(map(float, probe_params)))
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = kernel
    return kernel


def kernel_source(expr: sympy.Basic, variables: tuple[sympy.Symbol, ...], params: tuple[sympy.Symbol, ...] = ()) -> str:
    """The generated Python source of the kernel, for reading and debugging."""
    printer = _KernelPrinter(variables + params)
    body = printer.doprint(fold_constants(expr))
    names = ", ".join(str(s) for s in variables + params)
    return f"def _lambdifygenerated({names}):\n    return {body}"


# --- special values: exact limits at +-inf, NaN in -> NaN out ---------------------------------


def _probe(core: Kernel, value: float, params: tuple[float, ...]) -> float | None:
    """The kernel's value at ``value``, or ``None`` if NumPy raised a floating-point error."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            return float(np.asarray(core(np.array([value]), *params), dtype=float).reshape(-1)[0])
        except (FloatingPointError, ZeroDivisionError, OverflowError):
            return None


class _LazyLimit:
    """``lim expr`` as ``var -> direction`` at given parameter values, computed on demand.

    SymPy's ``limit`` costs 0.1-2 s, so it runs only when an infinite input arrives, once
    per parameter values (substituted as exact rationals, so the sign of every parameter
    is known). If SymPy cannot find the limit, the result is NaN, never a guess.
    """

    def __init__(self, expr: sympy.Basic, var: sympy.Symbol, direction: sympy.Expr,
                 params: tuple[sympy.Symbol, ...]) -> None:
        self.expr = expr.rewrite(sympy.exp)
        self.var, self.direction, self.params = var, direction, params
        self.values: dict[tuple[float, ...], float] = {}

    def __call__(self, *p: float) -> float:
        key = tuple(float(v) for v in p)
        if key not in self.values:
            self.values[key] = self._compute(key)
        return self.values[key]

    def _compute(self, values: tuple[float, ...]) -> float:
        expr = self.expr.xreplace({s: sympy.Rational(v) for s, v in zip(self.params, values)})
        try:
            limit = sympy.limit(expr, self.var, self.direction)
        except (NotImplementedError, ValueError, TypeError, RecursionError):
            return math.nan
        if limit.free_symbols or limit.has(sympy.nan, sympy.zoo, sympy.AccumBounds, sympy.Limit):
            return math.nan
        return float(limit)


def _guard_special_values(expr: sympy.Basic, var: sympy.Symbol, params: tuple[sympy.Symbol, ...],
                          core: Kernel, probe_params: tuple[float, ...]) -> Kernel:
    limits: dict[float, Kernel] = {}
    for infinity, direction in ((math.inf, sympy.oo), (-math.inf, -sympy.oo)):
        value = _probe(core, infinity, probe_params)
        if value is None or math.isnan(value):
            limits[infinity] = _LazyLimit(expr, var, direction, params)
    at_nan = _probe(core, math.nan, probe_params)
    fix_nan = at_nan is None or not math.isnan(at_nan)
    if not limits and not fix_nan:
        return core
    safe_point = 0.0 if _probe(core, 0.0, probe_params) is not None else 1.0
    positive, negative = limits.get(math.inf), limits.get(-math.inf)

    def guarded(x, *p):
        if isinstance(x, float):  # the Python-scalar path: one test, no array work
            if math.isfinite(x):
                return core(x, *p)
            if math.isnan(x):
                return math.nan
            limit = positive if x > 0 else negative
            return limit(*p) if limit is not None else core(x, *p)
        x = np.asarray(x)
        special = ~np.isfinite(x)
        if not special.any():
            return core(x, *p)
        result = np.array(core(np.where(special, safe_point, x), *p), dtype=x.dtype)
        result = np.broadcast_to(result, x.shape).copy()
        if positive is not None:
            result[x == math.inf] = positive(*p)
        if negative is not None:
            result[x == -math.inf] = negative(*p)
        if limits.keys() != {math.inf, -math.inf}:
            infinite = np.isinf(x)
            if positive is None:
                result[infinite & (x > 0)] = core(x[infinite & (x > 0)], *p)
            if negative is None:
                result[infinite & (x < 0)] = core(x[infinite & (x < 0)], *p)
        result[np.isnan(x)] = np.nan
        return result

    return guarded
