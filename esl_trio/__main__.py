"""``python -m esl_trio``: the ``esl-trio`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
