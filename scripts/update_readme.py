"""Regenerate the catalog table in README.md from the registry.

Run: python scripts/update_readme.py   (tests/test_docs.py fails while README.md is stale)
"""

from pathlib import Path

from mathforge import MathForge
from mathforge.docs import catalog_table, replace_between_markers

README = Path(__file__).resolve().parents[1] / "README.md"

if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    README.write_text(replace_between_markers(text, catalog_table(MathForge())), encoding="utf-8")
    print(f"updated {README}")
