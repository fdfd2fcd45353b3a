"""The ``esl-trio`` command line (private; the entry point is :func:`esl_trio.cli.main`)."""
