"""Build a custom activation by composition, differentiate it, and check the derivative.

Run: python examples/custom_activation.py
"""

import numpy as np

from mathforge import MathForge

forge = MathForge()
x = forge.symbol("x")

# x * sigmoid(2x): swish with beta = 2, built from the catalog's sigmoid
custom = x * forge.get("sigmoid")(2 * x)
gradient = custom.gradient("x")

print("f(x)  =", custom.symbolic_expr)
print("f'(x) =", gradient.symbolic_expr)
print("LaTeX :", custom.latex)

points = np.linspace(-3, 3, 7)
print("x     :", points)
print("f(x)  :", np.round(custom.eval(x=points), 6))
print("f'(x) :", np.round(gradient.eval(x=points), 6))
print("worst |symbolic - finite difference| :", f"{custom.check_gradient():.1e}")

# the same function is in the catalog as swish with beta = 2
swish2 = forge.get("swish", params={"beta": 2.0})
assert np.allclose(swish2.eval(x=points), custom.eval(x=points), rtol=1e-15, atol=0)

# register it under a name of its own, with metadata, and find it again
forge.register(custom, name="swish_beta2")
print("registered:", forge.get("swish_beta2"))
