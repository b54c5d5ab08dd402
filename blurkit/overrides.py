"""``KEY=VALUE`` settings from the command line: one parser for ``make``, ``train`` and the benchmarks.

A setting is a dotted key, ``=``, and a value in TOML syntax (``5e-4``, ``true``, ``[0.9, 0.999]``,
``"mse"``). Two older spellings stay valid: ``a,b`` (numbers separated by commas) is the pair
``[a, b]``, and ``null`` is None; anything else that is not TOML is taken as a plain string.

>>> parse_value("5e-4"), parse_value("[10, 40]"), parse_value("10,40"), parse_value("ramp")
(0.0005, [10, 40], [10.0, 40.0], 'ramp')
>>> parse_setting("optim.lr=5e-4", depth=2)
(('optim', 'lr'), 0.0005)
>>> apply_settings({"optim": {"lr": 1e-4}}, ["optim.lr=5e-4", "loss.pixel=l1"], depth=2)
{'optim': {'lr': 0.0005}, 'loss': {'pixel': 'l1'}}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import tomllib

__all__ = ["apply_settings", "parse_setting", "parse_settings", "parse_value"]


def parse_value(text: str) -> Any:
    """A setting's value: TOML, else ``a,b`` numbers, ``null``, or the text itself."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if text == "null":
        return None
    if "," in text:
        try:
            return [float(v) for v in text.split(",")]
        except ValueError:
            return text
    return text


def parse_setting(item: str, depth: int | None = None, what: str = "--set") -> tuple[tuple[str, ...], Any]:
    """``a.b=value`` → ``(("a", "b"), value)``; ``depth`` is the number of key parts required.

    Raises:
        ValueError: no ``=``, an empty key part, or not ``depth`` parts.
    """
    key, sep, text = item.partition("=")
    parts = tuple(p.strip() for p in key.split("."))
    if not sep or not all(parts):
        raise ValueError(f"{what} {item!r}: expected {_form(depth)}=VALUE")
    if depth is not None and len(parts) != depth:
        raise ValueError(f"{what} {item!r}: expected {_form(depth)}=VALUE")
    return parts, parse_value(text)


def parse_settings(
    items: Sequence[str] | None, depth: int | None = None, what: str = "--set"
) -> list[tuple[tuple[str, ...], Any]]:
    """Every item of ``items`` parsed with :func:`parse_setting`, in order."""
    return [parse_setting(item, depth, what) for item in items or []]


def apply_settings(
    raw: Mapping[str, Any], items: Sequence[str], depth: int | None = None, what: str = "--set"
) -> dict[str, Any]:
    """A deep copy of a nested mapping with the dotted ``items`` set (tables created as needed).

    Raises:
        ValueError: a setting is malformed, or a key part names a value that is not a table.
    """
    out = copy.deepcopy(dict(raw))
    for item, (parts, value) in zip(items, parse_settings(items, depth, what), strict=True):
        table = out
        for part in parts[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ValueError(f"{what} {item!r}: {part!r} is not a section")
        table[parts[-1]] = value
    return out


def _form(depth: int | None) -> str:
    names = ["SECTION", "KEY"] if depth == 2 else ["MODEL", "SECTION", "KEY"] if depth == 3 else []
    if depth == 1:
        return "FIELD"
    return ".".join(names) if names else "KEY[.KEY...]"
