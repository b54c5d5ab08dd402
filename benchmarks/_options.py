"""Command-line flags generated from a frozen settings dataclass, so each setting is written once.

A field declares its flag with :func:`option`: the default, the help text and, only where the
command line differs from the field, the flag name, the value parser, whether it repeats, the
command-line default and a hook run on the parsed value. :func:`add_options` adds one ``--flag`` per
field to an :class:`argparse.ArgumentParser` (the default is appended to the help text);
:func:`options_from_args` builds the dataclass back from the parsed arguments.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Settings:
...     conf: float = option(0.25, "confidence of kept boxes")
...     max_side: int | None = option(None, "longest side in px")
>>> parser = argparse.ArgumentParser()
>>> add_options(parser, Settings)
>>> options_from_args(Settings, parser.parse_args(["--max-side", "64"]))
Settings(conf=0.25, max_side=64)
>>> "--conf CONF" in parser.format_help(), "kept boxes (default 0.25)" in parser.format_help()
(True, True)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["add_options", "existing_folders", "option", "options_from_args"]

_KEY = "blurkit.option"
_SCALARS = (int, float, str, Path)
_FIELD_DEFAULT: Any = object()  # marker: the command line's default is the field's default


@dataclass(frozen=True)
class Flag:
    """How one dataclass field appears on the command line (see :func:`option`)."""

    help: str
    flag: str | None = None
    parse: Callable[[str], Any] | None = None
    repeat: bool = False
    cli_default: Any = _FIELD_DEFAULT
    shown: str | None = None
    from_cli: Callable[[str, Any], Any] | None = None


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    parse: Callable[[str], Any] | None = None,
    repeat: bool = False,
    cli_default: Any = _FIELD_DEFAULT,
    shown: str | None = None,
    from_cli: Callable[[str, Any], Any] | None = None,
) -> Any:
    """A dataclass field with a default and its command-line flag.

    Args:
        default: the field's default (also the command line's unless ``cli_default`` is given).
        help: the help text; `` (default X)`` is appended when the command-line default is not
            ``None`` or empty.
        flag: the flag, when not ``--`` + the field name with ``_`` written ``-``.
        parse: turns the text into a value; by default the field's scalar type (int, float, str,
            Path, or the item type of a repeated field), read from its annotation.
        repeat: the flag may be given several times; the values are collected in a tuple.
        cli_default: what the command line passes when the flag is absent (``None`` leaves the
            choice to ``from_cli``), when different from ``default``.
        shown: the default as written in the help text, when ``str(default)`` would not do.
        from_cli: ``from_cli(flag, value)`` returns the field value from the parsed one (checks,
            automatic choices); it may raise ``ValueError`` or ``FileNotFoundError``.
    """
    spec = Flag(help, flag, parse, repeat, cli_default, shown, from_cli)
    return dataclasses.field(default=default, metadata={_KEY: spec})


def _flags(cls: type) -> list[tuple[dataclasses.Field[Any], Flag, str]]:
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is not None:
            out.append((f, spec, spec.flag or "--" + f.name.replace("_", "-")))
    return out


def _value_type(hint: Any, name: str, repeat: bool) -> Any:
    """``int`` for ``int``, ``int | None`` or, repeated, ``tuple[int, ...]`` (likewise float, str,
    Path); a ``TypeError`` naming the field for anything else."""
    if repeat and typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else hint
    if hint in _SCALARS:
        return hint
    raise TypeError(f"{name}: a field of type {hint} needs option(..., parse=...)")


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per :func:`option` field of the dataclass ``cls``, in field order."""
    hints = typing.get_type_hints(cls)
    for f, spec, flag in _flags(cls):
        default = f.default if spec.cli_default is _FIELD_DEFAULT else spec.cli_default
        text = spec.help
        if spec.shown is not None or default not in (None, ()):
            text += f" (default {spec.shown if spec.shown is not None else _shown(default)})"
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "metavar": flag.lstrip("-").replace("-", "_").upper(),
            "help": text,
            "default": None if spec.repeat else default,
        }
        kind = spec.parse or _value_type(hints[f.name], f.name, spec.repeat)
        if kind is not str:
            kwargs["type"] = kind
        if spec.repeat:
            kwargs["action"] = "append"
        parser.add_argument(flag, **kwargs)


def options_from_args(cls: type, args: argparse.Namespace, **extra: Any) -> Any:
    """The dataclass ``cls`` from arguments parsed by a parser made with :func:`add_options`.

    Repeated flags become tuples; each field's ``from_cli`` hook runs in field order; ``extra``
    sets fields that have no flag.
    """
    values: dict[str, Any] = {}
    for f, spec, flag in _flags(cls):
        value = getattr(args, f.name)
        if spec.repeat:
            value = tuple(value or ())
        if spec.from_cli is not None:
            value = spec.from_cli(flag, value)
        values[f.name] = value
    return cls(**values, **extra)


def existing_folders(flag: str, value: Any) -> Any:
    """A ``from_cli`` hook: ``value`` (a path, a tuple of paths or ``None``) unchanged once each path
    is known to be a folder; ``FileNotFoundError`` naming the flag and the path otherwise."""
    paths = value if isinstance(value, tuple) else () if value is None else (value,)
    for path in paths:
        if not Path(path).is_dir():
            raise FileNotFoundError(f"{flag} {path}: no such folder")
    return value
