"""``--set FIELD=VALUE`` and the convenience flags of ``make`` and ``kernel``: preset fields to change.

Values are read by the one settings parser (:mod:`blurkit.overrides`: TOML values, ``a,b`` numbers,
``null``, else the text), with lists as tuples, the form config ranges take: ``length=10,40`` is
``(10.0, 40.0)`` and ``jpeg_quality=[50, 90]`` is ``(50, 90)``, ``shot=0`` a number, ``response=srgb``
a string, ``kernel_size=null`` None. A ``-`` in a field name is read as ``_``.

>>> parse_overrides(["length=10,40", "kernel-size=null", "response=srgb"])
{'length': (10.0, 40.0), 'kernel_size': None, 'response': 'srgb'}
"""

from __future__ import annotations

from typing import Any

from blurkit import overrides as settings_parser


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``FIELD=VALUE`` items → ``{field: value}`` (later items win).

    Raises:
        ValueError: an item without ``=``, with an empty or dotted field name.
    """
    return {
        parts[0].replace("-", "_"): tuple(value) if isinstance(value, list) else value
        for parts, value in settings_parser.parse_settings(items, depth=1)
    }


def _numbers(flag: str, text: str, count: tuple[int, ...]) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{flag}: expected numbers separated by commas, got {text!r}") from None
    if len(values) not in count:
        raise ValueError(f"{flag}: expected {' or '.join(map(str, count))} number(s), got {text!r}")
    return values


def convenience_overrides(
    kernel_size: int | None = None,
    length: str | None = None,
    exposure: str | None = None,
    noise: str | None = None,
    saturation: str | None = None,
    jpeg: str | None = None,
) -> dict[str, Any]:
    """Map the convenience flags of ``make`` onto config fields.

    ``--kernel-size K`` → ``kernel_size``; ``--length L`` or ``LO,HI`` → ``length``; ``--exposure F,..``
    (fractions to choose from) → ``exposure``; ``--noise SHOT,READ`` → ``shot``, ``read`` (``0``
    disables noise); ``--saturation B`` or ``LO,HI`` → ``boost`` (``1`` disables the highlight boost);
    ``--jpeg Q`` or ``LO,HI`` → ``jpeg_quality`` (``0`` or ``none`` disables JPEG).

    >>> convenience_overrides(length="10,40", noise="0", jpeg="70,90")
    {'length': (10.0, 40.0), 'shot': 0.0, 'read': 0.0, 'jpeg_quality': (70, 90)}
    """
    o: dict[str, Any] = {}
    if kernel_size is not None:
        o["kernel_size"] = kernel_size
    if length is not None:
        o["length"] = _pair(_numbers("--length", length, (1, 2)))
    if exposure is not None:
        o["exposure"] = _numbers("--exposure", exposure, tuple(range(1, 65)))
    if noise is not None:
        v = _numbers("--noise", noise, (1, 2))
        if len(v) == 1 and v[0] != 0:
            raise ValueError(f"--noise: expected SHOT,READ (or 0 to disable), got {noise!r}")
        o["shot"], o["read"] = (0.0, 0.0) if len(v) == 1 else v
    if saturation is not None:
        o["boost"] = _pair(_numbers("--saturation", saturation, (1, 2)))
    if jpeg is not None:
        if jpeg.strip().lower() in ("0", "none", "off"):
            o["jpeg_quality"] = None
        else:
            q = _numbers("--jpeg", jpeg, (1, 2))
            if any(v != int(v) for v in q):
                raise ValueError(f"--jpeg: expected integer qualities in 1..100, got {jpeg!r}")
            o["jpeg_quality"] = (int(q[0]), int(q[-1]))
    return o


def _pair(v: tuple[float, ...]) -> tuple[float, float] | float:
    return v[0] if len(v) == 1 else (v[0], v[1])


__all__ = ["convenience_overrides", "parse_overrides"]
