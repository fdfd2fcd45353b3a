"""The ``esl-trio`` command line (also ``python -m esl_trio``).

::

    esl-trio demo                                   # a guided tour, no switch needed
    esl-trio --url esl://ClueCon@pbx:8021 api status
    ESL_TRIO_URL=esl://ClueCon@pbx:8021 esl-trio events CHANNEL_ANSWER --count 10
    esl-trio fake-server --port 0 --simulate calls_per_second=2,hold_time=5

See ``docs/cli.md`` for every sub-command, the output formats and the exit codes.
"""

from __future__ import annotations

from ._cli._app import main as main

__all__ = ["main"]
