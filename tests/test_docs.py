"""The README's catalog table is the one generated from the registry (never typed by hand)."""

from pathlib import Path

from mathforge import MathForge
from mathforge.docs import BEGIN, END, FAVOURITES_BEGIN, FAVOURITES_END, catalog_table, update_readme_text

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_catalog_table_is_generated_from_the_registry():
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text and FAVOURITES_BEGIN in text and FAVOURITES_END in text
    assert update_readme_text(text, MathForge()) == text, (
        "README.md's generated tables are stale: run python scripts/update_readme.py")


def test_table_has_one_row_per_activation():
    rows = [line for line in catalog_table(MathForge()).splitlines()[2:]]
    assert len(rows) == len(MathForge().list_all(category="activation"))
