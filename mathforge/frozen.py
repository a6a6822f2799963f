"""Deeply read-only copies of metadata, so no object handed out can change the registry.

Examples:
    >>> meta = freeze({"pros": ["fast"], "refs": [{"year": 2010}]})
    >>> meta["pros"]
    ('fast',)
    >>> meta["refs"][0]["year"]
    2010
    >>> meta["pros"] = []
    Traceback (most recent call last):
    ...
    TypeError: 'mappingproxy' object does not support item assignment
    >>> thaw(meta)
    {'pros': ['fast'], 'refs': [{'year': 2010}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become ``MappingProxyType``, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a frozen value (dicts and lists), e.g. for JSON."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value
