"""The ``blurkit`` command line: thin wrappers over library functions.

Every command prints one line per problem and exits non-zero; no user input, argument or
file-system state ends in a traceback (:func:`blurkit.cli.app.guard`): bad arguments exit with 2, a
run that stopped or found failures with 1, an interruption with 130.

- :mod:`blurkit.cli.jobs`: ``make`` and ``average`` (their shared flags are one
  :class:`blurkit.synth.JobOptions`);
- :mod:`blurkit.cli.pairs`: ``merge``, ``inspect``, ``verify``;
- :mod:`blurkit.cli.kernels`: ``kernel``;
- :mod:`blurkit.cli.info`: ``samples``, ``presets``;
- :mod:`blurkit.cli.settings`: ``--set`` and the convenience flags of ``make``.
"""

import importlib

from blurkit.cli.app import app, clean
from blurkit.cli.settings import convenience_overrides, parse_overrides

#: The modules whose commands ``app`` holds, in the order ``blurkit --help`` lists them.
COMMAND_MODULES = ("jobs", "pairs", "kernels", "info")
for _name in COMMAND_MODULES:
    importlib.import_module(f"blurkit.cli.{_name}")


def main() -> None:
    """The ``blurkit`` console script."""
    app()


__all__ = ["COMMAND_MODULES", "app", "clean", "convenience_overrides", "main", "parse_overrides"]
