"""mathforge: a symbolic, executable registry of neural-network math.

Every entry is an exact SymPy formula with YAML metadata, evaluated by a NumPy kernel
compiled once, differentiated symbolically, and composable into new functions.

Examples:
    >>> from mathforge import MathForge
    >>> forge = MathForge()
    >>> forge.get("relu").eval(x=5)
    5.0
    >>> round(forge.get("swish").gradient("x").eval(x=1.0), 4)
    0.9277
"""

from ._version import __version__
from .catalog import builtin_registry_path
from .errors import FormulaError, MathforgeError, ParameterError, RegistryError, UnknownNameError
from .expression import Expression
from .forge import MathForge
from .parsing import parse_formula
from .symbols import symbol

__all__ = [
    "Expression",
    "FormulaError",
    "MathForge",
    "MathforgeError",
    "ParameterError",
    "RegistryError",
    "UnknownNameError",
    "__version__",
    "builtin_registry_path",
    "parse_formula",
    "symbol",
]
