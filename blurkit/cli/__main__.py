"""``python -m blurkit.cli``: the ``blurkit`` command line."""

from blurkit.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
