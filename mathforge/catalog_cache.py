"""A JSON copy of the built-in catalog's YAML data, so that start-up parses no YAML.

PyYAML's ``safe_load`` (pure Python) takes about 5 ms per catalog file: more than the
whole budget of a first ``get``. The first process that needs the catalog reads every
file with ``yaml.safe_load`` and stores what it returned as one JSON file; later
processes read that JSON (about 1 ms for the whole catalog).

The cache is keyed by mathforge's version and every file's path, size and modification
time, so an edited, added or removed file means a new key (and a fresh read). It lives in
``$MATHFORGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mathforge``, else
``~/.cache/mathforge``; ``MATHFORGE_CACHE_DIR=""`` turns it off. Cached data goes through
the same schema validation as freshly read YAML, and formulas through the same whitelist
parser: JSON holds data only, so the cache cannot run code. A cache that cannot be read
or written is ignored.

Examples:
    >>> from mathforge.catalog import builtin_registry_path, catalog_files
    >>> files = catalog_files(builtin_registry_path())
    >>> len(catalog_key(files))
    64
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ._version import __version__
from .errors import RegistryError

#: Environment variable naming the cache folder ("" turns the cache off).
CACHE_ENV = "MATHFORGE_CACHE_DIR"


def cache_directory() -> Path | None:
    """Where catalog caches are kept, or ``None`` if caching is turned off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mathforge"


def catalog_key(files: Mapping[str, Path]) -> str:
    """A digest of mathforge's version and each file's name, path, size and modification time."""
    digest = hashlib.sha256(__version__.encode())
    for name in sorted(files):
        stat = files[name].stat()
        digest.update(f"\0{name}\0{files[name]}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def read_catalog_data(files: Mapping[str, Path]) -> dict[str, Any]:
    """What ``yaml.safe_load`` returns for every file, from the cache when it is current.

    Raises:
        RegistryError: A file is not valid YAML or cannot be read (only on a cache miss).
    """
    directory = cache_directory()
    path = directory / f"catalog-{catalog_key(files)}.json" if directory is not None else None
    if path is not None:
        cached = _load(path, files)
        if cached is not None:
            return cached
    data = {name: _safe_load(file) for name, file in files.items()}
    if path is not None:
        _store(path, data)
    return data


def _safe_load(file: Path) -> Any:
    try:
        with open(file, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise RegistryError(f"not valid YAML: {exc}", source=str(file)) from None
    except OSError as exc:
        raise RegistryError(f"cannot read: {exc}", source=str(file)) from None


def _load(path: Path, files: Mapping[str, Path]) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != set(files):
        return None
    return data


def _store(path: Path, data: Mapping[str, Any]) -> None:
    """Write the cache atomically; data JSON cannot hold exactly (non-string keys, ...) is not cached."""
    try:
        text = json.dumps(data, sort_keys=True)
        if json.loads(text) != data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".catalog-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError):
        return
