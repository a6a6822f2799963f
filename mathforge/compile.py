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
        return mf_times_sigmoid(x, x)
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter
from sympy.utilities.lambdify import lambdify

from .primitives import NUMPY_KERNELS, PRIMITIVES, SCALAR_KERNELS, SHARES_EXP_MINUS_ABS, SHARES_NDTR

#: Digits used to fold constant subexpressions before rounding them to float64.
FOLD_DIGITS = 30
#: SymPy functions that print as a call to ``scipy.special``.
_SCIPY_FUNCTIONS = {sympy.erf: "erf", sympy.erfc: "erfc"}
_PRIMITIVE_TYPES = tuple(PRIMITIVES.values())
#: Primitives that decay to subnormal values; a product with one goes through ``mf_times_<name>``.
_TAIL_FACTORS = ("sigmoid", "normal_cdf", "normal_pdf")
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
    if isinstance(expr, sympy.Add):
        factored = _factor_linear_root(expr)
        if factored is not None:
            return factored
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        constants = [a for a in expr.args if a.is_number]
        others = [fold_constants(a) for a in expr.args if not a.is_number]
        if constants:
            folded = fold_constants(expr.func(*constants))
            if not (expr.is_Mul and folded == 1) and not (expr.is_Add and folded == 0):
                others.insert(0, folded)
        return expr.func(*others, evaluate=False) if len(others) > 1 else others[0]
    if isinstance(expr, sympy.Pow) and expr.exp.is_Rational:  # exponents stay exact: x**3, sqrt
        return sympy.Pow(fold_constants(expr.base), expr.exp, evaluate=False)
    return expr.func(*[fold_constants(a) for a in expr.args])


def _factor_linear_root(expr: sympy.Add) -> sympy.Basic | None:
    """``c1*u + c0`` as ``c1*(u + r)`` when ``r = c0/c1`` is exact in binary (``x/6 + 1/2``).

    Near the root the sum ``u + r`` is exact, so no digits cancel: ``hard_sigmoid`` at
    ``nextafter(-3, 0)`` is then correct to the last digit instead of off by 3e15 ulps.
    """
    if len(expr.args) != 2:
        return None
    constant = next((a for a in expr.args if a.is_Rational), None)
    term = next((a for a in expr.args if not a.is_number), None)
    if constant is None or term is None:
        return None
    coefficient, rest = term.as_coeff_Mul()
    if not coefficient.is_Rational or coefficient in (0, 1, -1):
        return None
    root = constant / coefficient
    if not (root.q & (root.q - 1) == 0 and abs(root.p) < 2**53):  # a dyadic rational: exact double
        return None
    inner = sympy.Add(fold_constants(rest), sympy.Float(root, FOLD_DIGITS), evaluate=False)
    return sympy.Mul(sympy.Float(coefficient, FOLD_DIGITS), inner, evaluate=False)


class _LiteralsMixin:
    """Numbers as Python literals and small integer powers as products (both printers)."""

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
        module = self._module
        if abs(exponent) == sympy.S.Half and base.is_Add and len(base.args) == 2:
            for square, rest in (base.args, base.args[::-1]):  # sqrt(u**2 + c) = hypot(u, sqrt(c))
                if square.is_Pow and square.exp == 2 and (rest.is_nonnegative or rest.is_Symbol):
                    root = f"{module}.hypot({self._print(square.base)}, {module}.sqrt({self._print(rest)}))"
                    return root if exponent > 0 else f"(1/{root})"
        if exponent == sympy.S.Half:
            return f"{module}.sqrt({self._print(base)})"
        if exponent == -sympy.S.Half:
            return f"(1/{module}.sqrt({self._print(base)}))"
        return f"{module}.pow({self._print(base)}, {self._print(exponent)})" if module == "math" else \
            f"numpy.power({self._print(base)}, {self._print(exponent)})"


class _OwnKernelsMixin:
    """Calls of mathforge's own kernels, shared by both printers.

    Primitives call their stable kernels, ``erf``/``erfc`` call SciPy (names collected in
    ``scipy_names``), ``sech`` calls an overflow-free kernel, and products with a sigmoid
    factor go through a kernel that is exact in the subnormal tail.
    """

    def _shared_input(self, kernel: str, u: sympy.Basic) -> str:
        """``, e=<temporary>`` (or ``cdf=``) if the kernel's intermediate of ``u`` (``exp(-|u|)``, ``ndtr(u)``)
        is computed once for several kernels (see :func:`_shared_inputs`), else ``""``;
        records the use either way."""
        kind = _SHARED_INPUT_OF.get(kernel)
        uses = getattr(self, "input_uses", None)
        if kind is None or uses is None:  # the scalar printer computes everything itself
            return ""
        definitions = self.definitions
        original = u.xreplace(definitions)
        uses.append((kind, original))
        key = kind.key(original)
        for temporary, definition in definitions.items():
            if type(definition) is kind and kind.key(definition.args[0]) == key:
                return f", {kind.keyword}={self._print(temporary)}"
        return ""

    def _print_Function(self, expr):
        if isinstance(expr, _PRIMITIVE_TYPES):
            name = type(expr)._kernel_name
            return f"{name}({', '.join(self._print(a) for a in expr.args)}{self._shared_input(name, expr.args[-1])})"
        for function, name in _SCIPY_FUNCTIONS.items():
            if isinstance(expr, function):
                self.scipy_names.add(name)
                return f"{name}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)

    _print_erf = _print_erfc = _print_Function

    def _print_sech(self, expr):
        return f"mf_sech({self._print(expr.args[0])})"


    def _print_Add(self, expr, order=None):
        """``u - tanh(u)`` and ``u + sqrt(u**2 + c)`` through kernels that do not cancel;
        ``sigmoid(u) + a*sigmoid(u)*sigmoid(-u)`` (swish-like derivatives) with one exponential."""
        coefficients = {abs(term.as_coeff_Mul()[0]) for term in expr.args}
        if len(coefficients) == 1 and len(expr.args) > 1:  # 2*p - 2*y -> 2*(p - y): one product, not two
            (common,) = coefficients
            if common.is_Number and common != 1:
                inner = sympy.Add(*[term.as_coeff_Mul()[1] * (1 if term.as_coeff_Mul()[0] == common else -1)
                                    for term in expr.args], evaluate=False)
                return f"{self._print(common)}*({self._print(inner)})"
        for find, kernel in ((_mish_slope, "mf_mish_slope"), (_sigmoid_plus_slope, "mf_sigmoid_plus_slope")):
            found = find(expr)
            if found is not None:
                (a, u), others = found
                code = f"{kernel}({self._print(a)}, {self._print(u)}{self._shared_input(kernel, u)})"
                return code if not others else f"{code} + {self._print(sympy.Add(*others, evaluate=False))}"
        if len(expr.args) == 2:  # 0.5*x + 0.5*sqrt(x**2 + b) -> 0.5*(x + sqrt(x**2 + b))
            (c1, t1), (c2, t2) = (a.as_coeff_Mul() for a in expr.args)
            content, inner = (c1, sympy.Add(t1, t2, evaluate=False)) if c1 == c2 else (1, None)
        if len(expr.args) == 2 and content != 1 and inner is not None and inner.is_Add:
            stable = self._print_Add(inner)
            if stable.startswith("mf_"):
                return f"{self._print(content)}*{stable}"
        if len(expr.args) == 2:
            for first, second in (expr.args, expr.args[::-1]):
                if (second.is_Mul and len(second.args) == 2 and second.args[0] == -1
                        and isinstance(second.args[1], sympy.tanh) and second.args[1].args[0] == first):
                    return f"mf_tanh_shrink({self._print(first)})"
                if second.is_Pow and second.exp == sympy.S.Half and second.base.is_Add:
                    rest = second.base - first**2
                    if not rest.has(first) and (rest.is_nonnegative or rest.is_Symbol):
                        return f"mf_sqrt_plus({self._print(first)}, {self._print(rest)})"
        return super()._print_Add(expr, order)

    def _print_Mul(self, expr):
        """A product with a sigmoid factor as ``mf_times_sigmoid(rest, u)`` (subnormal-safe), and
        one with ``sigmoid(u)*sigmoid(-u)`` (the sigmoid's derivative) as ``mf_times_sigmoid_slope``."""
        slope = _sigmoid_slope_factors(expr)
        if slope is not None:
            rest, u = slope
            shared = self._shared_input("mf_times_sigmoid_slope", u)
            return f"mf_times_sigmoid_slope({self._print(rest)}, {self._print(u)}{shared})"
        factors = expr.args
        index = next((i for i, f in enumerate(factors) if type(f).__name__ in _TAIL_FACTORS), None)
        if index is None or len(factors) == 1:
            return super()._print_Mul(expr)
        rest = sympy.Mul(*factors[:index], *factors[index + 1:], evaluate=False)
        kernel = f"mf_times_{type(factors[index]).__name__}"
        u = factors[index].args[0]
        return f"{kernel}({self._print(rest)}, {self._print(u)}{self._shared_input(kernel, u)})"


class _KernelPrinter(_OwnKernelsMixin, _LiteralsMixin, NumPyPrinter):
    """NumPy printer with folded constants, safe Piecewise branches and stable primitives."""

    _module = "numpy"

    def __init__(self, variables: Sequence[sympy.Symbol]) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
        self.variables = tuple(variables)
        self.scipy_names: set[str] = set()
        #: What each shared temporary stands for (filled by :func:`_hoist`), for rules that
        #: compare a branch with a condition across a temporary.
        self.definitions: dict[sympy.Symbol, sympy.Basic] = {}
        #: ``(kind, u)`` for each kernel printed so far that computes an intermediate of ``u``
        #: that others may share (a :class:`_SharedInput` kind).
        self.input_uses: list[tuple[type, sympy.Basic]] = []

    def _print_Max(self, expr):
        return functools.reduce(lambda a, b: f"numpy.maximum({a}, {b})", [self._print(a) for a in expr.args])

    def _print_Min(self, expr):
        return functools.reduce(lambda a, b: f"numpy.minimum({a}, {b})", [self._print(a) for a in expr.args])

    def _array_symbols(self, expr: sympy.Basic) -> set[sympy.Symbol]:
        """The free symbols of ``expr`` that hold arrays: variables and shared temporaries."""
        return {s for s in expr.free_symbols if s in self.variables or s.name.startswith(_SHARED_PREFIX)}

    def _fresh(self, expr: sympy.Basic) -> bool:
        """Whether ``expr``'s code yields a new array that nothing else refers to (when it is an array).

        Arithmetic and function calls of the variables do; a variable, a shared temporary or a
        Piecewise (a parameter-only one may return its input) do not.
        """
        return (isinstance(expr, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Function, sympy.Max, sympy.Min))
                and not isinstance(expr, sympy.Piecewise)
                and any(s in self.variables or s.name.startswith(_SHARED_PREFIX) for s in expr.free_symbols))

    def _print_Mul(self, expr):
        """``a/b`` with a fresh denominator divides into it (no new array)."""
        factors = expr.args
        denominators = [f for f in factors if f.is_Pow and f.exp == -1 and self._fresh(f.base)]
        if len(denominators) == 1 and not any(type(f).__name__ in _TAIL_FACTORS for f in factors):
            rest = sympy.Mul(*[f for f in factors if f is not denominators[0]], evaluate=False)
            return f"mf_divide_into({self._print(rest)}, {self._print(denominators[0].base)})"
        return super()._print_Mul(expr)

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_Integer and expr.exp < 0 and (
                self._fresh(expr.base) or (expr.exp < -1 and self._fresh(expr.base * 2))):
            positive = expr.base if expr.exp == -1 else sympy.Pow(expr.base, -expr.exp, evaluate=False)
            return f"mf_divide_into(1, {self._print(positive)})"
        return super()._print_Pow(expr, rational)

    def _in_place(self, expr, code: str) -> str:
        """``numpy.f(arg)`` as ``mf_in_place(numpy.f, arg)`` when ``arg`` is a fresh temporary."""
        name, parenthesis, rest = code.partition("(")
        if (parenthesis and name in _IN_PLACE_UFUNCS and len(expr.args) == 1 and self._fresh(expr.args[0])
                and rest.endswith(")")):
            return f"mf_in_place({name}, {rest[:-1]})"
        return code

    def _print_Abs(self, expr):
        return self._in_place(expr, f"numpy.abs({self._print(expr.args[0])})")

    def _print__HelperCallBase(self, expr):
        return f"{expr.helper}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Piecewise(self, expr):
        pieces = list(expr.args)
        arrays = self._array_symbols(expr)
        if not any(c.free_symbols & arrays for _, c in pieces if isinstance(c, sympy.Basic)):
            # conditions on parameters only (scalars): a Python conditional computes one branch
            code = self._print(pieces[-1][0]) if pieces[-1][1] is sympy.true else "numpy.nan"
            for value, condition in reversed(pieces[:-1] if pieces[-1][1] is sympy.true else pieces):
                code = f"(({self._print(value)}) if ({self._print(condition)}) else ({code}))"
            return code
        two_way = self._print_two_way(pieces)
        if two_way is not None:
            return two_way
        indicator = self._print_indicator(pieces, arrays)
        if indicator is not None:
            return indicator
        clamp = self._print_clamp(expr)
        if clamp is not None:
            return clamp
        factored = self._print_factored_clamp(expr)
        if factored is not None:
            return factored
        earlier: list[sympy.Basic] = []
        printed = []
        for value, condition in pieces:
            domain = sympy.And(condition, *[sympy.Not(c) for c in earlier])
            printed.append((self._print_branch(_clamped_to(value, domain, self.variables)), condition))
            earlier.append(condition)
        if printed[-1][1] is sympy.true:
            code = printed.pop()[0]
        else:
            code = "numpy.nan"
        for value_code, condition in reversed(printed):
            code = f"numpy.where({self._print(condition)}, {value_code}, {code})"
        return code

    def _print_indicator(self, pieces, arrays: set[sympy.Symbol]) -> str | None:
        """``Piecewise((c, cond), (0, True))`` with ``c`` free of the variables (the steps of
        piecewise-linear derivatives) as ``cond`` converted to float and scaled by ``c``: a
        conversion instead of a ``where``. ``(0, cond), (c, True)`` tests ``not cond``, so
        NaN (every comparison False) still gets the value of the last branch. Two nonzero
        constants are a scaled and shifted conversion where that is exact (``mf_select``)."""
        if len(pieces) != 2 or pieces[1][1] is not sympy.true:
            return None
        (a, condition), (b, _) = pieces
        if (a.free_symbols | b.free_symbols) & arrays or not isinstance(condition, sympy.Basic):
            return None
        # one variable: NaN in gives NaN out (the kernel checks; no special-value guard needed)
        nan_source = f", {self._print(self.variables[0])}" if len(self.variables) == 1 else ""
        if b == 0 and a != 0:
            return f"mf_indicator({self._print(condition)}, {self._print(a)}{nan_source})"
        if a == 0 and b != 0:
            return f"mf_indicator(numpy.logical_not({self._print(condition)}), {self._print(b)}{nan_source})"
        if a != b:
            return f"mf_select({self._print(condition)}, {self._print(a)}, {self._print(b)}{nan_source})"
        return None

    def _print_branch(self, value: sympy.Basic) -> str:
        """A ``where`` branch; an integer constant as a float, so ``where`` gives a float array
        (not int64 to be converted afterwards)."""
        if value.is_Integer:
            return repr(float(value))
        return self._print(value)

    def _print_clamp(self, expr: sympy.Piecewise) -> str | None:
        """``Piecewise((lo, x <= a), (hi, x >= b), (f(x), True))`` with ``f`` increasing and linear,
        ``f(a) = lo`` and ``f(b) = hi`` (relu6, hard_tanh, hard_sigmoid) as ``min(max(f, lo), hi)``:
        two passes, NaN kept. With symbolic bounds the clamp is taken only while ``lo <= hi``."""
        arrays = self._array_symbols(expr)
        found = _linear_clamp(expr, arrays)
        if found is None:
            return None
        inner, low, high = found
        code = (f"mf_clamp({self._print(inner)}, {self._print(low)}, {self._print(high)}, "
                f"{self._fresh(inner)})")
        order = sympy.Le(low, high)
        if order is sympy.true:
            return code
        if order is sympy.false or order.free_symbols & arrays:
            return None
        general = sympy.Piecewise(*expr.args)  # printed below without this rule
        return f"(({code}) if ({self._print(order)}) else ({self._print_Piecewise_general(general)}))"

    def _print_factored_clamp(self, expr: sympy.Piecewise) -> str | None:
        """``x*clamp(...)`` or ``x - clamp(...)`` when every branch is ``x`` times (or minus) the
        matching branch of a linear clamp: hard_swish is ``x*hard_sigmoid(x)``, hard_mish
        ``x*clip(x/2 + 1, 0, 1)``, soft_shrink ``x - clip(x, -lambd, lambd)``. Two or three
        passes instead of every branch on every element and a ``where`` per condition.

        ``x*0`` is NaN at ``x = -inf``, where the Piecewise is 0: the special-value guard,
        which the compiler adds when its probe at ``±inf`` disagrees with the limit, returns
        the limit there. A zero branch of the product form gives ``-0.0`` for negative ``x``
        (as PyTorch's ``x*relu6(x + 3)/6`` does).
        """
        arrays = self._array_symbols(expr)
        if len(expr.args) != 3 or expr.args[2][1] is not sympy.true or len(arrays) != 1:
            return None
        (x,) = arrays
        if x not in self.variables:
            return None
        for combine in ("*", "-"):
            if combine == "*":
                parts = [_without_factor(value, x) for value, _ in expr.args]
                if any(part is None for part in parts):
                    continue
            else:
                parts = [sympy.expand(x - value) for value, _ in expr.args]
            inner = sympy.Piecewise(*[(part, condition) for part, (_, condition) in zip(parts, expr.args)],
                                    evaluate=False)
            if _linear_clamp(inner, arrays) is None:
                continue
            code = self._print_clamp(inner)
            if code is not None:
                helper = "mf_multiply_into" if combine == "*" else "mf_subtract_into"
                return f"{helper}({self._print(x)}, {code})"  # the clamp is a fresh array
        return None

    def _print_Piecewise_general(self, expr):
        saved, self._print_clamp = self._print_clamp, lambda _: None
        try:
            return self._print_Piecewise(expr)
        finally:
            self._print_clamp = saved

    def _print_two_way(self, pieces) -> str | None:
        """``Piecewise((a, u op v), (b, True))`` in one pass where that keeps NaN in -> NaN out.

        ``where(cond, a, b)`` sends NaN (every comparison False) to ``b``; when only ``a``
        depends on the variables the complement is tested instead (NaN then reaches ``a``).
        A clamp ``(x, x > c), (c, True)`` is ``maximum(x, c)``; a 0/1 step at 0 is
        ``heaviside``. Either way no special-value guard is needed for NaN.
        """
        if len(pieces) != 2 or pieces[1][1] is not sympy.true:
            return None
        (a, condition), (b, _) = pieces
        if not isinstance(condition, _ORDER_COMPLEMENT_TYPES):
            return None
        variables = self._array_symbols(sympy.Piecewise(*pieces, evaluate=False))
        lhs, rhs, op = condition.lhs, condition.rhs, type(condition)
        if rhs in variables and lhs not in variables:
            lhs, rhs, op = rhs, lhs, _ORDER_REVERSED[op]
        if lhs in variables and not rhs.free_symbols & variables:
            step = _step(a, b, op, rhs)
            if step is not None:
                kind, h0, sign = step
                return f"mf_step({self._print(lhs)}, {sign}, {h0 == 1.0})"
            slope = _leaky_slope(lhs, a, b, op, rhs, variables)
            if slope is not None:
                return f"mf_leaky({self._print(lhs)}, {self._print(slope)})"
            clamp = _clamp(lhs, a, b, op, rhs)
            if clamp is not None:
                function, first, second = clamp
                return f"numpy.{function}({self._print(first)}, {self._print(second)})"
        larger = _larger_branch(a, b, condition, variables, self.definitions)
        if larger is not None:
            function, first, second, power = larger
            code = f"numpy.{function}({self._print(first)}, {self._print(second)})"
            return code if power == 1 else f"mf_square_into({code})"
        clip = _clip_by_magnitude(a, b, condition, variables, self.definitions)
        if clip is not None:
            inner, bound = clip
            code = (f"mf_clamp({self._print(inner)}, {self._print(-bound)}, {self._print(bound)}, "
                    f"{self._fresh(inner)})")
            if bound.is_positive:
                return code
            if not bound.free_symbols & variables:  # a parameter: the clip needs -bound <= bound
                general = f"numpy.where({self._print(condition)}, {self._print(a)}, {self._print(b)})"
                return f"(({code}) if ({self._print(bound)} >= 0) else ({general}))"
        if a.free_symbols & variables and not b.free_symbols & variables:
            complement = _ORDER_COMPLEMENT[type(condition)](condition.lhs, condition.rhs)
            a_code = self._print(_clamped_to(a, condition, self.variables))
            b_code = self._print_branch(_clamped_to(b, complement, self.variables))
            return f"numpy.where({self._print(complement)}, {b_code}, {a_code})"
        return None


#: The complement of each order relation (exact for every input but NaN).
_ORDER_COMPLEMENT = {sympy.StrictGreaterThan: sympy.LessThan, sympy.GreaterThan: sympy.StrictLessThan,
                     sympy.StrictLessThan: sympy.GreaterThan, sympy.LessThan: sympy.StrictGreaterThan}
#: ``u op v`` as ``v op' u``.
_ORDER_REVERSED = {sympy.StrictGreaterThan: sympy.StrictLessThan, sympy.GreaterThan: sympy.LessThan,
                   sympy.StrictLessThan: sympy.StrictGreaterThan, sympy.LessThan: sympy.GreaterThan}
_ORDER_COMPLEMENT_TYPES = tuple(_ORDER_COMPLEMENT)


def _without_factor(value: sympy.Basic, x: sympy.Symbol) -> sympy.Basic | None:
    """``value/x`` when ``value`` is 0, ``x`` or a product with the factor ``x`` (the rest is kept
    as written, so ``(x + 3)/6`` keeps its exact root), else ``None``."""
    if value == 0:
        return sympy.S.Zero
    if value == x:
        return sympy.S.One
    if value.is_Mul and x in value.args:
        rest = list(value.args)
        rest.remove(x)
        return sympy.Mul(*rest, evaluate=False)
    return None


def _larger_branch(a: sympy.Basic, b: sympy.Basic, condition: sympy.Basic, variables: set[sympy.Symbol],
                   definitions: dict[sympy.Symbol, sympy.Basic]):
    """``(function, first, second, power)`` if ``Piecewise((a, condition), (b, True))`` is
    ``maximum(a, b)`` or ``minimum(a, b)`` (to the power ``power``), else ``None``.

    That is the case when ``a - b`` is a constant multiple of ``lhs - rhs``: the condition
    then holds exactly where ``a`` is the larger (or the smaller) branch. Hinge's
    ``(1 - t, t <= 1), (0, True)`` is ``maximum(1 - t, 0)``, the quantile loss is the larger
    of its two lines, and ``((1 - t)**2, t <= 1), (0, True)`` is ``maximum(1 - t, 0)**2``.
    One branchless pass instead of a ``where`` (slow on unsorted data); NaN is kept. At a
    tie the branch the Piecewise takes goes second (``maximum`` returns its second argument
    when they compare equal, which decides the sign of a zero). Branches that could overflow
    or be undefined outside their domain are left to ``where`` and its clamped inputs.
    """
    power = 1
    if b == 0 and (a.is_Pow and a.exp == 2 or isinstance(a, _SquareInto)):  # (u**2, u >= 0), (0, True): 0**2 is 0
        a, power = a.args[0], 2
    if (not isinstance(condition, _ORDER_COMPLEMENT_TYPES) or _may_blow_up(a, variables)
            or _may_blow_up(b, variables) or condition.has(sympy.Piecewise)):
        return None
    gap = (condition.lhs - condition.rhs).xreplace(definitions)
    difference = (a - b).xreplace(definitions)
    if gap == 0 or difference == 0:
        return None
    ratio = sympy.cancel(difference / gap)
    if not ratio.is_number or not ratio.is_real or ratio == 0:
        return None
    op = type(condition) if ratio > 0 else _ORDER_REVERSED[type(condition)]  # condition <=> (a - b) op 0
    upward = op in (sympy.StrictGreaterThan, sympy.GreaterThan)
    strict = op in (sympy.StrictGreaterThan, sympy.StrictLessThan)
    first, second = (a, b) if strict else (b, a)
    return ("maximum" if upward else "minimum"), first, second, power


def _clip_by_magnitude(a: sympy.Basic, b: sympy.Basic, condition: sympy.Basic, variables: set[sympy.Symbol],
                       definitions: dict[sympy.Symbol, sympy.Basic]):
    """``(a, s*c)`` if ``Piecewise((a, |u| < c), (b, True))`` is ``a`` clipped to ``[-s*c, s*c]``:
    ``a = s*u`` and ``b = s*c*sign(u)`` (the derivatives of huber and smooth_l1), else ``None``.

    At ``|u| == c`` both sides are ``s*c*sign(u)``; NaN stays NaN and ``±inf`` becomes
    ``±s*c``, as the Piecewise gives.
    """
    if not isinstance(condition, (sympy.StrictLessThan, sympy.StrictGreaterThan)):
        return None
    small, large = ((condition.lhs, condition.rhs) if isinstance(condition, sympy.StrictLessThan)
                    else (condition.rhs, condition.lhs))
    if not isinstance(small, sympy.Abs) or large.free_symbols & variables:
        return None
    u = small.args[0]
    if not u.free_symbols & variables:
        return None
    slope = sympy.cancel(a.xreplace(definitions) / u.xreplace(definitions))
    if slope.free_symbols & variables or slope == 0 or _may_blow_up(a, variables):
        return None
    bound = slope * large
    if sympy.simplify((b - bound * sympy.sign(u)).xreplace(definitions)) != 0:
        return None
    return a, bound


def _may_blow_up(value: sympy.Basic, variables: set[sympy.Symbol]) -> bool:
    """Whether ``value`` may overflow or be undefined for some real input of ``variables``
    (a call, or a negative or fractional power of them); powers of parameters are fine."""
    if any(f.free_symbols & variables for f in value.atoms(sympy.Function) if not isinstance(f, _HelperCallBase)):
        return True
    return any((p.exp.is_negative or not p.exp.is_Integer) and p.base.free_symbols & variables
               for p in value.atoms(sympy.Pow))


def _indicator_kernel(mask, value: float, nan_source=None):
    """``where(mask, value, 0.0)`` as a conversion and a product (no ``where``); float64, as
    ``where`` with Python floats gives. ``0*value`` is ``-0.0`` for a negative ``value``:
    adding ``+0.0`` turns it into the ``0.0`` that ``where`` gives. NaN where ``nan_source``
    (the variable) is NaN, if given."""
    if not math.isfinite(value):
        return _with_nan_of(np.where(mask, value, 0.0), nan_source)
    result = np.asarray(mask).astype(np.float64)
    if value != 1:
        result *= value
        if value < 0:
            result += 0.0
    return _with_nan_of(result, nan_source)


def _with_nan_of(result: np.ndarray, source) -> np.ndarray:
    """``result`` (a fresh float array) with NaN wherever ``source`` is NaN; one ``min`` finds
    out whether there is any. Numbers for 0-d results, as ``where`` gives them."""
    if source is not None:
        source = np.asarray(source)
        if source.dtype.kind == "f" and source.size and np.isnan(source.min()):
            result = np.array(np.broadcast_to(result, np.broadcast_shapes(result.shape, source.shape)))
            result[np.isnan(np.broadcast_to(source, result.shape))] = np.nan
    return result if result.ndim else result[()]


def _select_kernel(mask, value: float, otherwise: float, nan_source=None):
    """``where(mask, value, otherwise)`` for two constants as ``mask*(value - otherwise) + otherwise``
    when that is exact (``(value - otherwise) + otherwise == value`` in float64, as for
    ``1`` and ``0.25``): a conversion and two passes with no branch per element, which
    ``where`` pays on unsorted data. Otherwise ``where`` itself. NaN where ``nan_source`` is."""
    step = value - otherwise
    if not (math.isfinite(step) and step + otherwise == value):
        return _with_nan_of(np.where(mask, value, otherwise), nan_source)
    result = np.asarray(mask).astype(np.float64)
    result *= step
    result += otherwise
    return _with_nan_of(result, nan_source)


def _linear_clamp(expr: sympy.Piecewise, variables: set[sympy.Symbol]):
    """``(f, lo, hi)`` if ``expr`` is ``f`` clamped to ``[lo, hi]`` (see ``_print_clamp``), else ``None``."""
    pieces = expr.args
    if len(pieces) != 3 or pieces[2][1] is not sympy.true:
        return None
    inner = pieces[2][0]
    symbols = inner.free_symbols & variables
    if len(symbols) != 1:
        return None
    (x,) = symbols
    slope = sympy.diff(inner, x)
    if slope.free_symbols & variables or not (slope.is_positive or slope.is_number and slope > 0):
        return None
    bounds = {}
    for value, condition in pieces[:2]:
        if not isinstance(condition, _ORDER_COMPLEMENT_TYPES) or value.free_symbols & variables:
            return None
        lhs, rhs, op = condition.lhs, condition.rhs, type(condition)
        if -x in (lhs, rhs):  # a < b  <=>  -b < -a: lambd < -x is x < -lambd
            lhs, rhs = -rhs, -lhs
        if rhs == x:
            lhs, rhs, op = rhs, lhs, _ORDER_REVERSED[op]
        if lhs != x or rhs.free_symbols & variables:
            return None
        side = "low" if op in (sympy.StrictLessThan, sympy.LessThan) else "high"
        if side in bounds or sympy.simplify(inner.subs(x, rhs) - value) != 0:
            return None  # f must meet the constant at the join
        bounds[side] = value
    if set(bounds) != {"low", "high"}:
        return None
    return inner, bounds["low"], bounds["high"]


def _leaky_slope(x, a, b, op: type, bound, variables) -> sympy.Basic | None:
    """``c`` if ``Piecewise((a, x op 0), (b, True))`` is ``x`` for ``x > 0`` and ``c*x`` below (leaky ReLU)."""
    if bound != 0 or op is not sympy.StrictGreaterThan or a != x or not b.is_Mul:
        return None
    slope = sympy.cancel(b / x)
    return slope if not slope.free_symbols & variables and slope.free_symbols | {x} >= b.free_symbols else None


def _leaky_kernel(x, slope: float):
    """``where(x > 0, x, slope*x)``: for ``0 < slope <= 1`` it is ``maximum(x, slope*x)``, one
    pass over a temporary of our own (NaN kept; ``slope = 0`` would make ``0*inf``)."""
    with np.errstate(invalid="ignore"):  # slope 0 at x = -inf: 0*inf is NaN, as the formula says
        y = np.multiply(x, slope)
    if type(y) is not np.ndarray or not y.ndim:
        return np.where(x > 0, x, y)[()]
    if 0 < slope <= 1:
        return np.maximum(x, y, out=y)
    np.copyto(y, x, where=x > 0)
    return y


def _step_kernel(x, sign: int, at_zero: bool):
    """``heaviside(sign*x)`` with value ``at_zero`` at 0 and NaN for NaN, in x's dtype.

    A comparison and a conversion (``numpy.heaviside`` is 3-4x slower); NaN is looked for
    with one ``min`` and put back only if there is one.
    """
    x = np.asarray(x)
    if sign > 0:
        step = np.greater_equal(x, 0) if at_zero else np.greater(x, 0)
    else:
        step = np.less_equal(x, 0) if at_zero else np.less(x, 0)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    result = step.astype(dtype)
    if result.ndim == 0:
        return result[()] if x == x else dtype.type(np.nan)
    if x.size and np.isnan(x.min()):
        result[np.isnan(x)] = np.nan
    return result


def _clamp_kernel(value, low, high, fresh: bool):
    """``minimum(maximum(value, low), high)``; written over ``value`` when it is a fresh temporary.

    ``maximum``/``minimum`` return their second argument on ties, so a value equal to a bound
    (``-0.0`` against 0) becomes the bound, as the Piecewise gives it.
    """
    writable = fresh and type(value) is np.ndarray and value.ndim and value.dtype.kind == "f" \
        and value.flags.writeable
    result = np.maximum(value, low, out=value if writable else None)
    if type(result) is np.ndarray and result.ndim:
        return np.minimum(result, high, out=result)
    return np.minimum(result, high)


def _step(a: sympy.Basic, b: sympy.Basic, op: type, bound: sympy.Basic) -> tuple[str, float, int] | None:
    """``(kind, h0, sign)`` if ``Piecewise((a, x op 0), (b, True))`` is ``heaviside(sign*x, h0)``."""
    if bound != 0 or {a, b} != {sympy.S.Zero, sympy.S.One}:
        return None
    upward = op in (sympy.StrictGreaterThan, sympy.GreaterThan)  # the condition holds for large x
    strict = op in (sympy.StrictGreaterThan, sympy.StrictLessThan)
    if a == 1:  # 1 where the condition holds: at x = 0, 1 only if it is not strict
        return ("step", 0.0 if strict else 1.0, 1 if upward else -1)
    return ("step", 1.0 if strict else 0.0, -1 if upward else 1)


def _clamp(x: sympy.Symbol, a: sympy.Basic, b: sympy.Basic, op: type,
           bound: sympy.Basic) -> tuple[str, sympy.Basic, sympy.Basic] | None:
    """``("maximum" or "minimum", first, second)`` if ``Piecewise((a, x op c), (b, True))`` is a clamp.

    NumPy's ``maximum``/``minimum`` return the second argument when the two compare equal,
    so the one the Piecewise takes at ``x == c`` goes second (``relu(-0.0)`` is ``+0.0``).
    """
    upward = op in (sympy.StrictGreaterThan, sympy.GreaterThan)
    strict = op in (sympy.StrictGreaterThan, sympy.StrictLessThan)
    if {a, b} != {x, bound}:
        return None
    function = "maximum" if upward == (a == x) else "minimum"
    at_equality = b if strict else a
    return function, (x if at_equality == bound else bound), at_equality


def _in_place_printer(function_name: str):
    def print_in_place(self, expr):
        if _is_tanh_softplus(expr):
            return f"mf_tanh_softplus({self._print(expr.args[0].args[0])})"
        return self._in_place(expr, getattr(NumPyPrinter, f"_print_{function_name}")(self, expr))

    return print_in_place


#: NumPy ufuncs of one argument that may write their result over a fresh temporary argument.
_IN_PLACE_UFUNCS = {f"numpy.{name}" for name in ("exp", "expm1", "log", "log1p", "tanh", "sinh", "cosh",
                                                 "sin", "cos", "sqrt", "abs", "arctan", "arcsinh")}
for _function in ("exp", "expm1", "log", "log1p", "tanh", "sinh", "cosh", "sin", "cos", "atan", "asinh"):
    setattr(_KernelPrinter, f"_print_{_function}", _in_place_printer(_function))


def _is_sech_softplus(expr: sympy.Basic) -> bool:
    return isinstance(expr, sympy.sech) and type(expr.args[0]).__name__ == "softplus"


def _is_tanh_softplus(expr: sympy.Basic) -> bool:
    """``tanh(softplus(u))``, mish's gate, which has a one-exponential kernel."""
    return isinstance(expr, sympy.tanh) and type(expr.args[0]).__name__ == "softplus"


def _in_place_call(ufunc, argument):
    """``ufunc(argument)``, written over ``argument`` when it is a float array (a temporary, by
    construction of the printed code)."""
    if type(argument) is np.ndarray and argument.ndim and argument.dtype.kind == "f" and argument.flags.writeable:
        return ufunc(argument, out=argument)
    return ufunc(argument)


def _into_second(ufunc):
    """``ufunc(a, b)`` written over ``b`` (a temporary of the kernel's own) when shapes and dtype allow."""
    def into(a, b):
        if (type(b) is np.ndarray and b.ndim and b.dtype.kind == "f" and b.flags.writeable
                and np.ndim(a) <= b.ndim and np.shape(a) == b.shape[b.ndim - np.ndim(a):]
                and np.result_type(a, b) == b.dtype):
            return ufunc(a, b, out=b)
        return ufunc(a, b)

    into.__name__ = f"{ufunc.__name__}_into"
    return into


#: ``numerator/denominator`` written over a fresh ``denominator``.
_divide_into = _into_second(np.divide)


class _ScalarPrinter(_OwnKernelsMixin, _LiteralsMixin, PythonCodePrinter):
    """Printer for Python floats: ``math`` functions, ``Piecewise`` as a conditional expression.

    Only the branch taken is evaluated, so no clamping is needed. Its kernel is used for
    finite Python floats only; anything it cannot do (``math.exp(1000)`` raises
    ``OverflowError``) falls back to the NumPy kernel.
    """

    _module = "math"

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
        self.scipy_names: set[str] = set()

    def _print_Infinity(self, expr):
        return "math.inf"

    def _print_NegativeInfinity(self, expr):
        return "(-math.inf)"

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr):
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_sign(self, expr):
        return f"mf_sign({self._print(expr.args[0])})"

    def _print_tanh(self, expr):
        if _is_tanh_softplus(expr):
            return f"mf_tanh_softplus({self._print(expr.args[0].args[0])})"
        return super()._print_tanh(expr)

    def _print_Piecewise(self, expr):
        pieces = list(expr.args)
        code = self._print(pieces.pop()[0]) if pieces[-1][1] is sympy.true else "math.nan"
        for value, condition in reversed(pieces):
            code = f"(({self._print(value)}) if ({self._print(condition)}) else ({code}))"
        return code


class _HelperCallBase(sympy.Function):
    """A call of one of this module's helpers in generated code (``helper`` names it in the namespace).

    The name ends in ``Base`` because SymPy's printer dispatches a Function subclass only on
    its own class name or a ``*Base`` ancestor's.
    """

    helper = ""


class _StrictlyBelow(_HelperCallBase):
    """``min(x, b')`` with ``b'`` the largest float of ``x``'s type below ``b`` (a strict bound).

    Clamping onto ``b`` itself would evaluate a branch where it may be singular: the branch
    ``log(1 - p)`` for ``p < 1`` is ``-inf`` at ``p = 1``.
    """

    nargs = 2
    helper = "mf_strictly_below"


class _StrictlyAbove(_HelperCallBase):
    """``max(x, b')`` with ``b'`` the smallest float of ``x``'s type above ``b``."""

    nargs = 2
    helper = "mf_strictly_above"


def _strictly_inside(x, bound: float, direction: float):
    """``x`` clamped to the float of its dtype next to ``bound`` towards ``direction`` (``±inf``)."""
    x = np.asarray(x)
    kind = x.dtype.type if x.dtype.kind == "f" else np.float64
    inside = np.nextafter(kind(bound), kind(direction))
    return np.minimum(x, inside) if direction < 0 else np.maximum(x, inside)


def _needs_guard(value: sympy.Basic) -> bool:
    """Whether a Piecewise branch may overflow or be undefined outside its own domain."""
    if value.has(sympy.Function):
        return True
    return any(p.exp.is_negative or not p.exp.is_Integer for p in value.atoms(sympy.Pow))


def _clamped_to(value: sympy.Basic, domain: sympy.Basic, variables: Sequence[sympy.Symbol]) -> sympy.Basic:
    """``value`` with each variable clamped to the bounds that ``domain`` puts on it.

    A domain in one variable is reduced to an interval (``(p < 0.5) | (p < 1)`` is
    ``p < 1``); otherwise only simple bounds (``x > b``, ``x <= b`` with ``b`` free of
    ``x``) are used. A branch whose domain has none is returned unchanged.
    """
    if not _needs_guard(value):
        return value
    replacements = {}
    for var in variables:
        if var not in value.free_symbols:
            continue
        bounds = _interval_bounds(domain, var)
        if bounds is None:
            bounds = _simple_bounds(domain, var)
        clamped = var
        for op, rhs in bounds:
            strict = op in (">", "<") and rhs.is_number
            if op in (">", ">="):
                clamped = _StrictlyAbove(clamped, rhs) if strict else sympy.Max(clamped, rhs, evaluate=False)
            else:
                clamped = _StrictlyBelow(clamped, rhs) if strict else sympy.Min(clamped, rhs, evaluate=False)
        if clamped is not var:
            replacements[var] = clamped
    return value.xreplace(replacements) if replacements else value


def _interval_bounds(domain: sympy.Basic, var: sympy.Symbol) -> list[tuple[str, sympy.Basic]] | None:
    """The bounds of a domain in ``var`` alone, if it is one interval; else ``None``."""
    if not isinstance(domain, sympy.Basic) or domain.free_symbols != {var}:
        return None
    try:
        interval = domain.as_set()
    except (NotImplementedError, TypeError, ValueError):
        return None
    if not isinstance(interval, sympy.Interval):
        return None
    bounds = []
    if interval.inf.is_finite:
        bounds.append((">" if interval.left_open else ">=", interval.inf))
    if interval.sup.is_finite:
        bounds.append(("<" if interval.right_open else "<=", interval.sup))
    return bounds


def _simple_bounds(domain: sympy.Basic, var: sympy.Symbol) -> list[tuple[str, sympy.Basic]]:
    """Bounds ``var op b`` (``b`` free of ``var``) among the conjuncts of ``domain``."""
    atoms = domain.args if isinstance(domain, sympy.And) else (domain,)
    bounds = []
    for atom in atoms:
        if not isinstance(atom, sympy.core.relational.Relational):
            continue
        lhs, rhs, op = atom.lhs, atom.rhs, atom.rel_op
        if rhs == var and var not in lhs.free_symbols:
            lhs, rhs, op = rhs, lhs, {">": "<", ">=": "<=", "<": ">", "<=": ">="}[op]
        if lhs == var and var not in rhs.free_symbols and op in (">", ">=", "<", "<="):
            bounds.append((op, rhs))
    return bounds


def _sigmoid_slope_factors(term: sympy.Basic) -> tuple[sympy.Basic, sympy.Basic] | None:
    """``(a, u)`` if ``term`` is ``a*sigmoid(u)*sigmoid(-u)`` (``u`` without a minus sign)."""
    if not term.is_Mul:
        return None
    factors = term.args
    for i, first in enumerate(factors):
        if type(first).__name__ != "sigmoid":
            continue
        for j in range(i + 1, len(factors)):
            second = factors[j]
            if type(second).__name__ == "sigmoid" and second.args[0] == -first.args[0]:
                u = first.args[0] if not first.args[0].could_extract_minus_sign() else second.args[0]
                rest = [f for k, f in enumerate(factors) if k not in (i, j)]
                return sympy.Mul(*rest, evaluate=False) if rest else sympy.S.One, u
    return None


def _mish_slope(expr: sympy.Add):
    """``((a, u), other terms)`` if ``expr`` holds ``tanh(softplus(u)) + a*sigmoid(u)*sech(softplus(u))**2``."""
    for gate in expr.args:
        if not _is_tanh_softplus(gate):
            continue
        u = gate.args[0].args[0]
        for term in expr.args:
            if not term.is_Mul:
                continue
            factors = list(term.args)
            sig = next((f for f in factors if type(f).__name__ == "sigmoid" and f.args[0] == u), None)
            sech2 = next((f for f in factors if f.is_Pow and f.exp == 2 and _is_sech_softplus(f.base)
                          and f.base.args[0].args[0] == u), None)
            if sig is None or sech2 is None:
                continue
            rest = [f for f in factors if f is not sig and f is not sech2]
            a = sympy.Mul(*rest, evaluate=False) if rest else sympy.S.One
            return (a, u), [t for t in expr.args if t is not gate and t is not term]
    return None


def _sigmoid_plus_slope(expr: sympy.Add):
    """``((a, u), other terms)`` if ``expr`` holds ``sigmoid(u) + a*sigmoid(u)*sigmoid(-u)``."""
    for term in expr.args:
        found = _sigmoid_slope_factors(term)
        if found is None:
            continue
        a, u = found
        for other in expr.args:
            if type(other).__name__ == "sigmoid" and other.args[0] == u:
                return (a, u), [t for t in expr.args if t is not term and t is not other]
    return None


def _sign(x: float) -> float:
    return math.copysign(1.0, x) if x else 0.0


def _namespace(scipy_names: set[str], scalar: bool = False) -> dict[str, object]:
    namespace: dict[str, object] = {"numpy": np, "math": math, "mf_sign": _sign,
                                    "mf_strictly_below": functools.partial(_strictly_inside, direction=-math.inf),
                                    "mf_strictly_above": functools.partial(_strictly_inside, direction=math.inf),
                                    "mf_in_place": _in_place_call, "mf_divide_into": _divide_into,
                                    "mf_multiply_into": _into_second(np.multiply),
                                    "mf_subtract_into": _into_second(np.subtract),
                                    "mf_clamp": _clamp_kernel, "mf_leaky": _leaky_kernel, "mf_step": _step_kernel,
                                    "mf_square_into": _square_into, "mf_indicator": _indicator_kernel,
                                    "mf_select": _select_kernel,
                                    **(SCALAR_KERNELS if scalar else NUMPY_KERNELS)}
    if scipy_names:
        import scipy.special  # deferred: ~0.2 s, paid only by kernels that need it

        namespace.update({name: getattr(scipy.special, name) for name in scipy_names})
    return namespace


def _lambdify(exprs: sympy.Basic | Sequence[sympy.Basic], arguments: Sequence[sympy.Symbol],
              variables: Sequence[sympy.Symbol] | None = None) -> Kernel:
    """Compile ``exprs`` over ``arguments``; ``variables`` (default: all) are the array inputs.

    One expression gives a kernel returning its value; a sequence, a kernel returning a list.
    Calls used more than once, and intermediates several kernels need, are computed once.
    """
    variables = tuple(arguments if variables is None else variables)
    single = isinstance(exprs, sympy.Basic)
    folded = [fold_constants(e) for e in ([exprs] if single else exprs)]
    shared = _shared_calls(folded, variables)
    printer = _KernelPrinter(variables)
    for e in (*folded, *shared):
        printer.doprint(e)  # a first pass: the SciPy names needed, the kernels that may share an input
    shared = _with_shared_inputs(shared, _shared_inputs(printer.input_uses))
    final_printer = _KernelPrinter(variables)
    return lambdify(list(arguments), folded[0] if single else folded, modules=[_namespace(printer.scipy_names)],
                    printer=final_printer, docstring_limit=0,
                    cse=lambda found: _hoist(found, shared, variables, final_printer.definitions))


def _lambdify_scalar(expr: sympy.Basic, arguments: Sequence[sympy.Symbol]) -> Kernel | None:
    """The Python-float kernel of ``expr``, or ``None`` if it cannot be printed for ``math``."""
    printer = _ScalarPrinter()
    folded = fold_constants(expr)
    try:
        printer.doprint(folded)
        if getattr(printer, "_not_supported", None):
            return None
        return lambdify(list(arguments), folded, modules=[_namespace(printer.scipy_names, scalar=True)],
                        printer=_ScalarPrinter(), docstring_limit=0)
    except (TypeError, ValueError, NotImplementedError, sympy.printing.printer.PrintMethodNotImplementedError):
        return None


_CACHE: dict[tuple[sympy.Basic, tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...]], Kernel] = {}
_CACHE_LIMIT = 4096


def _remember(key: tuple, kernel: Kernel) -> None:
    """Cache a compiled kernel; the oldest entry goes when the cache is full."""
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = kernel


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
        A function of NumPy arrays or Python floats. Its attribute ``scalar`` is a faster
        kernel for finite Python floats (``None`` where none could be printed); it may
        raise ``ArithmeticError`` or ``ValueError`` where NumPy would return inf or NaN.
    """
    key = (expr, tuple(variables), tuple(params))
    kernel = _CACHE.get(key)
    if kernel is None:
        if probe_params is None:
            probe_params = (1.0,) * len(params)
        core = _lambdify(expr, key[1] + key[2], key[1])
        kernel = core
        if len(variables) == 1:
            kernel = _guard_special_values(expr, key[1][0], key[2], core, tuple(map(float, probe_params)))
        regular_range = getattr(kernel, "regular_range", None)  # None: no input needs special handling
        ignores_overflow = _overflows_benignly(core, tuple(map(float, probe_params)), len(variables))
        if ignores_overflow:
            kernel = _ignoring_overflow(kernel)
        if kernel is core:
            kernel = functools.partial(core)  # an object of our own, to carry the scalar kernel
        kernel.scalar = _lambdify_scalar(expr, key[1] + key[2])
        kernel.ignores_overflow = ignores_overflow
        kernel.regular_range = regular_range
        _remember(key, kernel)
    return kernel


def compile_fused(exprs: Sequence[sympy.Basic], variables: tuple[sympy.Symbol, ...],
                  params: tuple[sympy.Symbol, ...] = (), probe_params: tuple[float, ...] | None = None) -> Kernel:
    """One kernel computing several expressions of the same inputs in one call, sharing work.

    Function calls that occur more than once across ``exprs`` (``softplus(x)`` in mish and
    its derivative) are computed once. Calls inside a ``Piecewise`` stay where they are (their
    branch evaluates them on clamped inputs), and so do sigmoid-like factors of a product
    (printed as subnormal-exact ``mf_times_*`` kernels). The expensive intermediate of the
    stable kernels is shared as well: ``exp(-|u|)`` between softplus and sigmoid kernels of
    ``±u``, ``ndtr(u)`` between normal-CDF kernels. Each result is the same as from
    :func:`compile_kernel` of that expression: inputs that need a special-value guard
    (``±inf``, NaN, beyond a settled bound) are handed to the separate guarded kernels.

    Returns:
        A function of ``(*variables, *params)`` returning a tuple, one result per expression.
    """
    exprs = tuple(exprs)
    key = ("fused", exprs, tuple(variables), tuple(params))
    kernel = _CACHE.get(key)
    if kernel is not None:
        return kernel
    separate = [compile_kernel(e, variables, params, probe_params) for e in exprs]
    core = _lambdify(exprs, tuple(variables) + tuple(params), variables)
    ranges = [k.regular_range for k in separate if k.regular_range is not None]
    ignore_overflow = any(k.ignores_overflow for k in separate)

    def fused(*args):
        values = args[: len(variables)]
        if ranges:
            x = np.asarray(values[0])
            if x.dtype.kind != "f" or x.size == 0:
                return tuple(k(*args) for k in separate)
            p = args[len(variables):]
            lo = max(r(x.dtype, *p)[0] for r in ranges)
            hi = min(r(x.dtype, *p)[1] for r in ranges)
            if not (x.min() > lo and x.max() < hi):  # also False for NaN
                return tuple(k(*args) for k in separate)
        if ignore_overflow:
            with np.errstate(over="ignore"):
                return tuple(core(*args))
        return tuple(core(*args))

    fused.separate = tuple(separate)
    fused.source = inspect.getsource(core)
    _remember(key, fused)
    return fused


def _shared_calls(exprs: Sequence[sympy.Basic], variables: Sequence[sympy.Symbol]) -> list[sympy.Basic]:
    """Function calls found more than once across ``exprs`` where hoisting them is safe; inner first."""
    counts: dict[sympy.Basic, int] = {}
    for expr in exprs:
        for node in _hoistable_nodes(expr, tuple(variables)):
            counts[node] = counts.get(node, 0) + 1
    shared = [node for node, n in counts.items() if n > 1]
    return sorted(shared, key=sympy.count_ops)


#: Names of the temporaries that hold shared subexpressions in generated code.
_SHARED_PREFIX = "_shared"


def _open_parts(piecewise: sympy.Piecewise, variables: tuple[sympy.Symbol, ...]) -> list[sympy.Basic]:
    """The parts of a Piecewise whose subexpressions may be shared with the rest of the kernel:
    every condition (evaluated on all inputs anyway), and each branch that its printing does
    not evaluate on clamped inputs (a clamped branch must compute its own calls)."""
    parts, earlier = [], []
    for value, condition in piecewise.args:
        domain = sympy.And(condition, *[sympy.Not(c) for c in earlier])
        if isinstance(condition, sympy.Basic) and condition.args:
            parts.append(condition)
        if _clamped_to(value, domain, variables) == value:
            parts.append(value)
        earlier.append(condition)
    return parts


def _hoistable_nodes(expr: sympy.Basic, variables: tuple[sympy.Symbol, ...]):
    """Function calls of ``expr`` (and bases of small integer powers, printed as products), not a
    sigmoid-like factor of a product, and inside a Piecewise only in its open parts."""
    if not isinstance(expr, sympy.Basic):
        return
    if isinstance(expr, sympy.Piecewise):
        for part in _open_parts(expr, variables):
            yield from _hoistable_nodes(part, variables)
        return
    if expr.is_Function and expr.free_symbols and not _is_tanh_softplus(expr):  # mish's gate stays whole
        yield expr
        yield from _call_arguments(expr)
    if (expr.is_Pow and expr.exp.is_Integer and 2 <= abs(expr.exp) <= _MAX_PRODUCT_POWER
            and not expr.base.is_Atom and not isinstance(expr.base, sympy.Piecewise) and expr.base.free_symbols
            and not _is_sech_softplus(expr.base)):  # sech(softplus(u))**2 belongs to mf_mish_slope
        for _ in range(abs(int(expr.exp))):  # printed as a product: the base is used that often
            yield expr.base
    for arg in expr.args:
        if _kept_in_place(expr, arg):
            yield from _call_arguments(arg)
            for inner in arg.args:
                yield from _hoistable_nodes(inner, variables)
            continue
        yield from _hoistable_nodes(arg, variables)


def _call_arguments(call: sympy.Basic):
    """The compound arguments of a call that are not calls themselves (``sigmoid(u)`` and its
    slope share ``u``); calls are counted where they stand."""
    for arg in call.args:
        if not arg.is_Atom and not arg.is_Function and arg.free_symbols and not isinstance(arg, sympy.Piecewise):
            yield arg


def _kept_in_place(parent: sympy.Basic, arg: sympy.Basic) -> bool:
    """Whether the printer needs ``arg`` itself inside ``parent`` for a stable kernel.

    A sigmoid-like factor of a product (``mf_times_sigmoid``), and the ``tanh(u)`` of
    ``u - tanh(u)`` (``mf_tanh_shrink``; ``-tanh(u)`` is the product ``-1*tanh(u)``).
    """
    if _is_tanh_softplus(parent):  # printed as one kernel of u
        return True
    if parent.is_Mul and len(parent.args) > 1:
        if type(arg).__name__ in _TAIL_FACTORS:
            return True
        if isinstance(arg, sympy.tanh) and parent.args[0] == -1 and len(parent.args) == 2:
            return True
    return False


def _replace_hoistable(expr: sympy.Basic, mapping: dict[sympy.Basic, sympy.Symbol],
                       variables: tuple[sympy.Symbol, ...]) -> sympy.Basic:
    """``expr`` with the hoisted calls replaced, where :func:`_hoistable_nodes` would find them."""
    if isinstance(expr, sympy.Piecewise):
        open_parts = _open_parts(expr, variables)
        return sympy.Piecewise(*[
            (_replace_hoistable(value, mapping, variables) if value in open_parts else value,
             _replace_hoistable(condition, mapping, variables) if condition in open_parts else condition)
            for value, condition in expr.args], evaluate=False)
    if not expr.args:
        return expr
    if expr in mapping:
        return mapping[expr]
    if expr.is_Mul and -expr in mapping and not any(_kept_in_place(expr, a) for a in expr.args):
        # sigmoid(-u) next to sigmoid(u): keep the pair recognisable
        return -mapping[-expr]
    args = []
    for arg in expr.args:
        if _kept_in_place(expr, arg):
            args.append(arg.func(*[_replace_hoistable(a, mapping, variables) for a in arg.args]))
        else:
            args.append(_replace_hoistable(arg, mapping, variables))
    return expr.func(*args, evaluate=False) if expr.is_Add or expr.is_Mul else expr.func(*args)


def _hoist(exprs: sympy.Basic | Sequence[sympy.Basic], shared: Sequence[sympy.Basic],
           variables: Sequence[sympy.Symbol], definitions: dict[sympy.Symbol, sympy.Basic] | None = None):
    """lambdify's ``cse`` hook: the shared calls as temporaries, then the reduced expression(s).

    ``definitions`` (the printer's) receives what each temporary stands for."""
    variables = tuple(variables)
    mapping: dict[sympy.Basic, sympy.Symbol] = {}
    assignments = []
    for index, call in enumerate(shared):
        temporary = sympy.Symbol(f"{_SHARED_PREFIX}{index}", real=True)
        assignments.append((temporary, _replace_hoistable(call, mapping, variables) if mapping else call))
        mapping[call] = temporary
        if definitions is not None:
            definitions[temporary] = call
    if isinstance(exprs, sympy.Basic):
        return assignments, _square_in_place(_replace_hoistable(exprs, mapping, variables), mapping.values())
    reduced = [_replace_hoistable(e, mapping, variables) for e in exprs]
    if len(reduced) == 1:
        reduced = [_square_in_place(reduced[0], mapping.values())]
    return assignments, reduced


class _SharedInput(_HelperCallBase):
    """An intermediate of ``u`` that several kernels compute, computed once and passed to each
    as ``keyword=`` (the kernels only read it)."""

    nargs = 1
    keyword = ""
    kernels: frozenset[str] = frozenset()

    @staticmethod
    def key(u: sympy.Basic) -> sympy.Basic:
        """Arguments with the same key have the same intermediate."""
        return u


class _ExpMinusAbs(_SharedInput):
    """``exp(-|u|)``, the one exponential of the sigmoid-family kernels of ``u`` and of ``-u``."""

    helper = "mf_exp_minus_abs"
    keyword = "e"
    kernels = SHARES_EXP_MINUS_ABS

    @staticmethod
    def key(u: sympy.Basic) -> sympy.Basic:
        return -u if u.could_extract_minus_sign() else u  # |u| == |-u|


class _Ndtr(_SharedInput):
    """``ndtr(u)``, the normal CDF of the ``normal_cdf`` kernels (gelu and its derivative)."""

    helper = "mf_ndtr"
    keyword = "cdf"
    kernels = SHARES_NDTR


#: The shared intermediate each kernel can take, by kernel name.
_SHARED_INPUT_OF = {kernel: kind for kind in (_ExpMinusAbs, _Ndtr) for kernel in kind.kernels}


def _shared_inputs(uses: Sequence[tuple[type, sympy.Basic]]) -> list[sympy.Basic]:
    """One :class:`_SharedInput` call for each intermediate that more than one printed kernel
    needs: softplus and its derivative the sigmoid share one exponential, so do the two terms
    of BCE with logits, and gelu and its derivative one ``ndtr``."""
    counts: dict[tuple[type, sympy.Basic], int] = {}
    first: dict[tuple[type, sympy.Basic], sympy.Basic] = {}
    for kind, u in uses:
        key = (kind, kind.key(u))
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, u)  # as written: it may be a temporary already
    return [key[0](first[key]) for key, n in counts.items() if n > 1]


def _with_shared_inputs(shared: Sequence[sympy.Basic], inputs: Sequence[sympy.Basic]) -> list[sympy.Basic]:
    """``shared`` with each shared input placed right after the temporaries its argument uses,
    so before any hoisted call that reads it (``sigmoid(x)`` in sigmoid's second derivative)."""
    result = list(shared)
    for call in inputs:
        u = call.args[0]
        result.insert(max((i + 1 for i, c in enumerate(result) if u.has(c)), default=0), call)
    return result


class _SquareInto(_HelperCallBase):
    """``t**2`` written over the temporary ``t`` (its last use), printed as ``mf_square_into(t)``."""

    nargs = 1
    helper = "mf_square_into"


def _square_in_place(expr: sympy.Basic, temporaries) -> sympy.Basic:
    """``expr`` with ``t**2`` as ``_SquareInto(t)`` for each temporary whose only use in ``expr`` it is.

    The assignments of the other temporaries all run before ``expr``, so a temporary used
    once here is dead after that use: squaring it in place saves a fresh array (mse's
    ``(p - y)**2``).
    """
    for temporary in temporaries:
        square = sympy.Pow(temporary, 2, evaluate=False)
        uses = [node for node in sympy.preorder_traversal(expr) if node == temporary]
        squares = [node for node in sympy.preorder_traversal(expr) if node == square]
        if len(squares) == 1 and len(uses) == 1:
            expr = expr.xreplace({square: _SquareInto(temporary)})
    return expr


def _square_into(t):
    if type(t) is np.ndarray and t.ndim and t.dtype.kind == "f" and t.flags.writeable:
        return np.multiply(t, t, out=t)
    return t * t


def kernel_source(expr: sympy.Basic, variables: tuple[sympy.Symbol, ...], params: tuple[sympy.Symbol, ...] = ()) -> str:
    """The generated Python source of the kernel, for reading and debugging."""
    function = _lambdify(expr, tuple(variables) + tuple(params), variables)
    return inspect.getsource(function).rstrip("\n")


# --- special values: exact limits at +-inf, NaN in -> NaN out ---------------------------------


def _probe(core: Kernel, value: float, params: tuple[float, ...]) -> float | None:
    """The kernel's value at ``value``, or ``None`` if NumPy raised a floating-point error."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            return float(np.asarray(core(np.array([value]), *params), dtype=float).reshape(-1)[0])
        except (FloatingPointError, ZeroDivisionError, OverflowError):
            return None


#: Huge finite inputs at which kernels are probed for intermediate overflow.
_HUGE = (1e300, -1e300, 1.7e308, -1.7e308)


def _overflows_benignly(core: Kernel, params: tuple[float, ...], n_variables: int = 1) -> bool:
    """Whether an intermediate overflows to inf at huge inputs without spoiling the result.

    ``x*sigmoid(c*(x + 0.044715*x**3))`` overflows in ``x**3`` for ``|x| > 5.6e102``, yet
    ``sigmoid(±inf)`` makes the result exact; ``exp(y_pred)`` at 1e4 is inf, correctly
    rounded. Such a kernel runs with overflow ignored; ``invalid`` and ``divide`` are
    still reported (they mean a NaN or a pole). Each variable is probed in turn (the others
    at 0.5); probes at which the kernel gives NaN are left to the special-value guard.
    """
    for index in range(n_variables):
        for value in _HUGE:
            point = [np.array([0.5])] * n_variables
            point[index] = np.array([value])
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                result = np.asarray(core(*point, *params), dtype=float)
            if np.isnan(result).any():
                continue
            with np.errstate(over="raise", invalid="ignore", divide="ignore", under="ignore"):
                try:
                    core(*point, *params)
                except FloatingPointError:
                    return True
    return False


def _ignoring_overflow(kernel: Kernel) -> Kernel:
    @functools.wraps(kernel)
    def kernel_without_overflow_flags(*args):
        with np.errstate(over="ignore"):
            return kernel(*args)

    return kernel_without_overflow_flags


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
        constant = _constant_branch_at_infinity(self.expr, expr, self.var, self.direction)
        if constant is not None:
            return float(constant)
        try:
            limit = sympy.limit(expr, self.var, self.direction)
        except (NotImplementedError, ValueError, TypeError, RecursionError):
            return math.nan
        if limit.free_symbols or limit.has(sympy.nan, sympy.zoo, sympy.AccumBounds, sympy.Limit):
            return math.nan
        if limit.is_extended_real is not True:  # e.g. sqrt(x) at -oo: no real limit
            return math.nan
        return float(limit)


def _constant_branch_at_infinity(expr: sympy.Basic, substituted: sympy.Basic, var: sympy.Symbol,
                                 direction: sympy.Expr) -> sympy.Basic | None:
    """The value of a Piecewise far towards ``direction`` when the branch that holds there (its
    condition is true at ``±oo``: ``x < -2`` at ``-oo``) is a constant as written, else ``None``.

    SymPy's ``limit`` fails on some Piecewise expressions (hard_mish at ``-oo``). A branch
    such as leaky ReLU's ``a*x`` is not constant as written even when ``a = 0``: there
    ``0*inf`` stays NaN, as the formula gives it. ``substituted`` is ``expr`` with the
    parameter values in.
    """
    if not isinstance(expr, sympy.Piecewise) or not isinstance(substituted, sympy.Piecewise) \
            or len(expr.args) != len(substituted.args):
        return None
    for (written, _), (value, condition) in zip(expr.args, substituted.args):
        try:
            held = condition if condition is sympy.true else condition.subs(var, direction)
        except (TypeError, ValueError):  # e.g. a comparison with zoo
            return None
        if held is sympy.true:
            return value if var not in written.free_symbols and value.is_extended_real and value.is_finite else None
        if held is not sympy.false:
            return None  # undecided: leave it to limit()
    return None


def _settled_magnitude(core: Kernel, sign: float, params: tuple[float, ...], dtype: np.dtype) -> float:
    """``inf`` if the kernel gives a number at every huge input of this sign and dtype; else the
    largest power of ten at which it still does (beyond it, e.g., ``x**3`` is inf and meets a 0)."""
    top = float(np.finfo(dtype).max)
    with np.errstate(all="ignore"):
        def fine(magnitude: float) -> bool:
            value = core(np.array([sign * magnitude], dtype=dtype), *params)
            return not np.isnan(np.asarray(value, dtype=float)).any()

        if fine(top) and fine(top / 1e8):
            return math.inf
        exponents = range(4, int(math.log10(top)) + 1)
        good = [10.0**k for k in exponents if fine(10.0**k)]
    return good[-1] if good else 1e4


class _Side:
    """What a guarded kernel returns beyond a bound on one side: the exact limit at ``±inf``."""

    def __init__(self, expr: sympy.Basic, var: sympy.Symbol, direction: sympy.Expr,
                 params: tuple[sympy.Symbol, ...], core: Kernel, probe_params: tuple[float, ...]) -> None:
        self.sign = 1.0 if direction == sympy.oo else -1.0
        self.core, self.probe_params = core, probe_params
        self.limit = _LazyLimit(expr, var, direction, params)
        at_infinity = _probe(core, self.sign * math.inf, probe_params)
        self.infinity_needs_limit = at_infinity is None or math.isnan(at_infinity)
        self.bounds: dict[np.dtype, float] = {}

    def bound(self, dtype: np.dtype) -> float:
        """Inputs at least this large in magnitude take the limit (``inf``: only ±inf; ``nan``: none)."""
        if dtype not in self.bounds:
            settled = _settled_magnitude(self.core, self.sign, self.probe_params, dtype)
            self.bounds[dtype] = settled if settled != math.inf else (math.inf if self.infinity_needs_limit
                                                                      else math.nan)
        return self.bounds[dtype]

    def value(self, dtype: np.dtype, *p: float) -> float:
        """The limit, checked against the kernel at the bound when the bound is finite.

        Where only ``±inf`` itself is special and the kernel gives a number there at these
        parameter values (the guard was installed for others: leaky ReLU's ``0*inf`` at
        slope 0), that number is the answer, as without a guard.
        """
        bound = self.bound(dtype)
        if math.isinf(bound):
            at_infinity = _probe(self.core, self.sign * math.inf, p)
            if at_infinity is not None and not math.isnan(at_infinity):
                return at_infinity
        value = self.limit(*p)
        if math.isfinite(bound):
            with np.errstate(all="ignore"):
                at_bound = float(np.asarray(self.core(np.array([self.sign * bound], dtype=dtype), *p)).reshape(-1)[0])
            if not (value == at_bound or abs(value - at_bound) <= 2 * np.spacing(dtype.type(abs(value)))):
                return math.nan  # the kernel has not reached its limit there: no guess
        return value


def _guard_special_values(expr: sympy.Basic, var: sympy.Symbol, params: tuple[sympy.Symbol, ...],
                          core: Kernel, probe_params: tuple[float, ...]) -> Kernel:
    sides = [_Side(expr, var, d, params, core, probe_params) for d in (sympy.oo, -sympy.oo)]
    dtypes = (np.dtype(np.float64), np.dtype(np.float32))
    at_nan = _probe(core, math.nan, probe_params)
    fix_nan = at_nan is None or not math.isnan(at_nan)
    if not fix_nan and all(math.isnan(s.bound(t)) for s in sides for t in dtypes):
        return core
    safe_point = 0.0 if _probe(core, 0.0, probe_params) is not None else 1.0
    positive, negative = sides
    float64 = np.dtype(np.float64)

    def guarded(x, *p):
        if isinstance(x, float):  # the Python-scalar path
            if math.isnan(x):
                return math.nan
            side = positive if x > 0 else negative
            bound = side.bound(float64)
            if not abs(x) >= bound:  # also when bound is nan: no special handling
                return core(x, *p)
            return side.value(float64, *p)
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else float64
        if x.size:  # two fast reductions decide whether any element needs special handling
            lo, hi = regular_range(dtype)
            if x.min() > lo and x.max() < hi:  # False if there is a NaN
                return core(x, *p)
        masks = []
        for side in sides:
            bound = side.bound(dtype)
            if not math.isnan(bound):
                with np.errstate(over="ignore"):
                    limit_at = dtype.type(side.sign * bound)
                masks.append((x >= limit_at if side.sign > 0 else x <= limit_at, side))
        nan = np.isnan(x)
        special = functools.reduce(np.logical_or, [m for m, _ in masks], nan)
        if not special.any():
            return core(x, *p)
        result = np.array(core(np.where(special, safe_point, x), *p), dtype=dtype)
        result = np.broadcast_to(result, x.shape).copy()
        for mask, side in masks:
            if mask.any():
                result[mask] = side.value(dtype, *p)
        result[nan] = np.nan
        return result

    def regular_range(dtype: np.dtype, *p: float) -> tuple[float, float]:
        """``(lo, hi)``: inputs strictly between them (not NaN) need no special handling."""
        limits = []
        for side in sides:
            bound = side.bound(dtype)
            limits.append(math.inf if math.isnan(bound) else bound)
        return -limits[1], limits[0]

    guarded.regular_range = regular_range
    return guarded
