"""One way for the command-line scripts to end: a clear ``error: ...`` line and exit status 2.

Every ``main()`` of the scripts under ``models/`` and ``benchmarks/`` is wrapped by :func:`run_main`,
so a bad input prints one line naming the file and the problem instead of a traceback.

>>> def main(argv=None):
...     raise ValueError("photo.png: not an image")
>>> import contextlib, io
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     status = run_main(main, [])
>>> status, err.getvalue()
(2, 'error: photo.png: not an image\\n')
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["USER_ERRORS", "UsageError", "run_main"]


class UsageError(ValueError):
    """A problem with what the user asked for (reported as ``error: ...``, exit status 2)."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    RuntimeError,
)


def run_main(
    main: Callable[..., int | None],
    argv: Sequence[str] | None = None,
    errors: tuple[type[BaseException], ...] = USER_ERRORS,
    **kwargs: Any,
) -> int:
    """Call ``main(argv, **kwargs)``; an error of one of ``errors`` prints ``error: ...`` and gives 2.

    ``None`` from ``main`` counts as 0. ``KeyboardInterrupt`` gives 130 with a short note.
    """
    try:
        status = main(argv, **kwargs)
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0 if status is None else int(status)
