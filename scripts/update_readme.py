"""Regenerate the generated tables in README.md (catalog, favourites) from the registry.

Run: python scripts/update_readme.py   (tests/test_docs.py fails while README.md is stale)
"""

from pathlib import Path

from mathforge import MathForge
from mathforge.docs import update_readme_text

README = Path(__file__).resolve().parents[1] / "README.md"

if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    README.write_text(update_readme_text(text, MathForge()), encoding="utf-8")
    print(f"updated {README}")
