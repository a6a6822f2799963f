"""Numeric rewrite rules applied after ``sympy.diff``: same mathematics, stable evaluation.

SymPy's derivatives are correct but not always evaluable in floating point:
``diff(tanh(x))`` is ``1 - tanh(x)**2``, which is 0 for ``|x| > 19`` although the exact
``tanh'(-300)`` is 3.8e-260; the derivative of softsign, ``x/(1 + |x|)``, comes out as
``-x*sign(x)/(|x| + 1)**2 + 1/(|x| + 1)``, whose two terms cancel at large ``|x|``.
Each rule here replaces a form by an equal one that keeps its accuracy.

Examples:
    >>> import sympy
    >>> from mathforge.symbols import symbol
    >>> x = symbol("x")
    >>> stabilize(sympy.diff(sympy.tanh(x), x))
    sech(x)**2
    >>> stabilize(sympy.diff(x / (1 + sympy.Abs(x)), x))
    (Abs(x) + 1)**(-2)
"""

from __future__ import annotations

import sympy


def _tanh_complement(expr: sympy.Basic) -> sympy.Basic:
    """``1 - tanh(u)**2`` becomes ``sech(u)**2`` (and ``tanh(u)**2 - 1`` becomes ``-sech(u)**2``)."""
    u = sympy.Wild("u")
    expr = expr.replace(1 - sympy.tanh(u) ** 2, sympy.sech(u) ** 2)
    return expr.replace(sympy.tanh(u) ** 2 - 1, -sympy.sech(u) ** 2)


def _signed_magnitude(expr: sympy.Basic) -> sympy.Basic:
    """``u*sign(u)`` inside a product becomes ``Abs(u)`` (true for real ``u``); fractions are
    then joined if that is simpler.

    Joining ``-|x|/(|x| + 1)**2 + 1/(|x| + 1)`` gives ``1/(|x| + 1)**2``: no cancellation.
    """
    if not expr.has(sympy.sign):
        return expr

    def merge(product: sympy.Mul) -> sympy.Basic:
        factors = list(product.args)
        for factor in [f for f in factors if isinstance(f, sympy.sign)]:
            if factor.args[0] in factors:
                factors.remove(factor)
                factors.remove(factor.args[0])
                factors.append(sympy.Abs(factor.args[0]))
        return sympy.Mul(*factors)

    replaced = expr.replace(lambda e: e.is_Mul and any(isinstance(f, sympy.sign) for f in e.args), merge)
    joined = sympy.together(replaced)
    return joined if sympy.count_ops(joined) < sympy.count_ops(replaced) else replaced


def _sqrt_complement(expr: sympy.Basic) -> sympy.Basic:
    """``a + a*u/sqrt(u**2 + c)`` becomes ``a*(u + sqrt(u**2 + c))/sqrt(u**2 + c)``.

    The derivative of ``(x + sqrt(x**2 + b))/2`` is ``1/2 + x/(2*sqrt(x**2 + b))``, whose
    terms cancel for ``x << 0``; the numerator ``u + sqrt(u**2 + c)`` has a stable kernel.
    """

    def join(add: sympy.Add) -> sympy.Basic:
        for term in add.args:
            for root in term.atoms(sympy.Pow):
                if root.exp != -sympy.S.Half or not root.base.is_Add:
                    continue
                for u in root.base.free_symbols:
                    rest = root.base - u**2
                    if rest.has(u):
                        continue
                    a = sympy.simplify(term * root ** -1 / u)
                    if a.has(u) or a not in add.args:
                        continue
                    others = [t for t in add.args if t not in (term, a)]
                    return sympy.Add(*others, a * (u + sympy.sqrt(root.base)) * root, evaluate=False)
        return add

    if not expr.has(sympy.sqrt(sympy.Wild("w")).func):
        return expr
    return expr.replace(lambda e: e.is_Add and any(p.exp == -sympy.S.Half for t in e.args
                                                   for p in t.atoms(sympy.Pow)), join)


def _delta_products(expr: sympy.Basic) -> sympy.Basic:
    """``u*DiracDelta(u)`` is 0 (as a distribution, and pointwise wherever it is defined).

    The derivative of ``x*sign(x)`` is ``2*x*DiracDelta(x) + sign(x)``: the first term is 0.
    """
    if not expr.has(sympy.DiracDelta):
        return expr

    def drop(product: sympy.Mul) -> sympy.Basic:
        deltas = [f for f in product.args if isinstance(f, sympy.DiracDelta) and len(f.args) == 1]
        return sympy.S.Zero if any(d.args[0] in product.args for d in deltas) else product

    return expr.replace(lambda e: e.is_Mul and e.has(sympy.DiracDelta), drop)


def _symbolic_powers(expr: sympy.Basic) -> sympy.Basic:
    """``gamma*p**gamma/p`` becomes ``gamma*p**(gamma - 1)``: no ``0/0`` at ``p = 0``.

    SymPy differentiates ``p**gamma`` (symbolic ``gamma``) as ``gamma*p**gamma/p``; powers
    of the same base are combined only where some exponent is symbolic.
    """
    if not any(p.exp.free_symbols for p in expr.atoms(sympy.Pow)):
        return expr
    return sympy.powsimp(expr, deep=True)


def _vanishing_power_derivatives(expr: sympy.Basic) -> sympy.Basic:
    """``a*u**(a - 1)*rest`` becomes ``Piecewise((0, Eq(a, 0)), (a*u**(a - 1)*rest, True))``.

    The derivative of ``u**gamma`` is ``gamma*u**(gamma - 1)``; at ``gamma = 0`` it is 0
    everywhere, but evaluated as written it is ``0*inf = nan`` at ``u = 0``.
    """

    def guard(product: sympy.Mul) -> sympy.Basic:
        for power in product.args:
            if not (power.is_Pow and power.exp.free_symbols):
                continue
            a = power.exp + 1
            if a in product.args:
                return sympy.Piecewise((sympy.S.Zero, sympy.Eq(a, 0)), (product, True))
        return product

    if not any(p.exp.free_symbols for p in expr.atoms(sympy.Pow)):
        return expr
    return expr.replace(lambda e: e.is_Mul and any(f.is_Pow and f.exp.free_symbols for f in e.args), guard)


#: The rules, applied in order.
RULES = (_delta_products, _tanh_complement, _signed_magnitude, _sqrt_complement, _symbolic_powers,
         _vanishing_power_derivatives)


def stabilize(expr: sympy.Basic) -> sympy.Basic:
    """Apply every rule of :data:`RULES` to ``expr``."""
    for rule in RULES:
        expr = rule(expr)
    return expr
