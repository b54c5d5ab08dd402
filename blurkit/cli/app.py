"""The ``blurkit`` application and what every command shares: one ``error:`` line per problem.

No user input, argument or file-system state ends in a traceback (:func:`guard`): bad arguments exit
with 2, a run that stopped or found failures with 1, an interruption with 130. Names are printed
with control characters escaped (:func:`clean`), so a file name cannot forge an output line.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer

app = typer.Typer(
    name="blurkit",
    help="Realistic synthetic motion blur: make blurry/sharp pairs, look at kernels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


F = TypeVar("F", bound=Callable[..., Any])


def _cli_exceptions() -> tuple[type[BaseException], ...]:
    """What the command-line framework raises to end a command (let through :func:`guard`): typer's
    exit and abort, the exceptions of the ``click`` it runs on (its own copy in typer >= 0.2x, the
    ``click`` package before), and ``SystemExit``. ``click`` is not a dependency of its own."""
    found: list[type[BaseException]] = [typer.Exit, typer.Abort, SystemExit]
    own = getattr(typer, "TyperException", None)
    if isinstance(own, type) and issubclass(own, BaseException):
        found.append(own)
    try:
        import click
    except ImportError:
        pass
    else:
        found += [click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort]
    return tuple(found)


_CLI_EXCEPTIONS = _cli_exceptions()


def clean(text: object) -> str:
    """``text`` on one line: control characters (a newline in a file name) shown as ``\\xNN`` escapes,
    so that no input can forge or split an output line.

    >>> clean("a\\nfailed: b.png")
    'a\\\\x0afailed: b.png'
    """
    return "".join(
        f"\\x{ord(c):02x}" if ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" else c for c in str(text)
    )


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: <message>`` (cleaned) on stderr and exit with ``code``."""
    typer.echo(f"error: {clean(message)}", err=True)
    raise typer.Exit(code=code)


def note(message: str) -> None:
    """Print an informative ``note:`` line on stderr."""
    typer.echo(f"note: {clean(message)}", err=True)


def _os_error(exc: OSError) -> str:
    if exc.filename is not None:
        where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
        return f"{where}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def guard(fn: F) -> F:
    """Turn any exception of a command into one ``error:`` line and an exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _CLI_EXCEPTIONS:
            raise
        except KeyboardInterrupt:
            fail("interrupted; files written so far are complete (run again with --resume to finish)", 130)
        except FileNotFoundError as exc:
            fail(_os_error(exc) if exc.errno is not None else str(exc), 2 if exc.errno is None else 1)
        except OSError as exc:
            fail(_os_error(exc), 1)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            fail(str(exc) or type(exc).__name__, 2)
        except MemoryError:
            fail("out of memory", 1)
        except Exception as exc:  # the last line of defence: still one line, no traceback
            fail(f"{type(exc).__name__}: {exc}", 1)

    return wrapper  # type: ignore[return-value]


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While a job runs, SIGTERM stops it like Ctrl-C (workers stopped, temporary files removed)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["app", "clean", "fail", "guard", "note", "terminate_as_interrupt"]
