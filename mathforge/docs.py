"""Documentation generated from the registry, so no table in the README is typed by hand.

Examples:
    >>> from mathforge import MathForge
    >>> table = catalog_table(MathForge())
    >>> table.splitlines()[0]
    '| name | aliases | formula | range | best for |'
    >>> any(line.startswith("| relu |") for line in table.splitlines())
    True
"""

from __future__ import annotations

from .forge import MathForge

#: The README markers between which the generated catalog table stands.
BEGIN, END = "<!-- catalog-table:begin -->", "<!-- catalog-table:end -->"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def catalog_table(forge: MathForge, category: str = "activation") -> str:
    """A Markdown table of one category: name, aliases, formula (as stored), range, best for."""
    lines = ["| name | aliases | formula | range | best for |", "|---|---|---|---|---|"]
    for name in forge.list_all(category=category):
        entry = forge.get(name)
        formula = str(entry.symbolic_expr)
        if entry.kind == "vector":
            formula = f"{name}(x)_j = {formula}"
        aliases = ", ".join(forge.aliases(name)) or "—"
        lines.append(f"| {name} | {_cell(aliases)} | `{_cell(formula)}` | `{_cell(entry.metadata['range'])}` "
                     f"| {_cell(entry.metadata['best_for'])} |")
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``table``."""
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + table + "\n" + text[stop:]
