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
#: The README markers of the loss table.
LOSSES_BEGIN, LOSSES_END = "<!-- loss-table:begin -->", "<!-- loss-table:end -->"
#: The README markers of the favourites comparison (the table ``mathforge tour`` prints).
FAVOURITES_BEGIN, FAVOURITES_END = "<!-- favourites-table:begin -->", "<!-- favourites-table:end -->"


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
        elif entry.kind == "classes":
            formula = f"{name}(x, y) = {formula}"
        aliases = ", ".join(forge.aliases(name)) or "—"
        lines.append(f"| {name} | {_cell(aliases)} | `{_cell(formula)}` | `{_cell(entry.metadata['range'])}` "
                     f"| {_cell(entry.metadata['best_for'])} |")
    return "\n".join(lines)


def favourites_table(forge: MathForge) -> str:
    """The tour's comparison of the common favourites as a Markdown table (computed, not typed)."""
    from .tour import favourites_table as table_of

    table = table_of(forge)
    cells = [[_cell(c) for c in table.columns]] + [[_cell(_format(row[c])) for c in table.columns]
                                                 for row in table.rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in cells[1:]])


def _format(value: object) -> str:
    from .table import _format as format_cell

    return format_cell(value)


def replace_between_markers(text: str, table: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with the part between ``begin`` and ``end`` replaced by ``table``."""
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + table + "\n" + text[stop:]


def update_readme_text(text: str, forge: MathForge) -> str:
    """The README with both generated tables brought up to date."""
    text = replace_between_markers(text, catalog_table(forge))
    text = replace_between_markers(text, catalog_table(forge, "loss"), LOSSES_BEGIN, LOSSES_END)
    return replace_between_markers(text, favourites_table(forge), FAVOURITES_BEGIN, FAVOURITES_END)
