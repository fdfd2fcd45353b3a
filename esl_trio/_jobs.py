"""bgapi job tracking (B-BG-*).

The client picks the Job-UUID (B-BGW-3) and registers the job *before* the command is
written, so a completion can never race its registration. Accepted jobs outlive the socket
that accepted them: their completion may arrive on a later connection (B-BG-8). Completion
deadlines run from acceptance and are served by one timer task for all jobs (a heap), not a
task per job.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import trio

from ._errors import CommandTimeoutError, EslError
from .protocol import BackgroundJobEvent

__all__ = ["BackgroundJob", "JobTracker"]


class BackgroundJob:
    """A handle on one ``bgapi`` command, returned once FreeSWITCH accepted it."""

    __slots__ = (
        "_done",
        "_error",
        "_result",
        "accepted_at",
        "args",
        "command",
        "deadline",
        "job_uuid",
    )

    def __init__(self, job_uuid: str, command: str, args: str) -> None:
        self.job_uuid = job_uuid
        self.command = command
        self.args = args
        #: trio time of acceptance (None until accepted).
        self.accepted_at: float | None = None
        self.deadline = math.inf
        self._done = trio.Event()
        self._result: BackgroundJobEvent | None = None
        self._error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def wait(self) -> BackgroundJobEvent:
        """The BACKGROUND_JOB event (its ``result`` is the output).

        Raises :class:`CommandTimeoutError` when the completion deadline passed,
        :class:`DrainError` if the runtime shut down first, and the runtime's terminal error
        (:class:`ConnectionLostError` after retries ran out, :class:`AuthenticationError`,
        :class:`HandshakeError`) if it stopped for good before the completion arrived.
        """
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def result_nowait(self) -> BackgroundJobEvent:
        """The completion if it arrived; raises the job's error if it failed, and
        :class:`trio.WouldBlock` while it is still pending (trio's ``*_nowait`` rule)."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise trio.WouldBlock
        return self._result

    def _settle(self, result: BackgroundJobEvent | None, error: BaseException | None) -> bool:
        if self._done.is_set():
            return False
        self._result, self._error = result, error
        self._done.set()
        return True

    def __repr__(self) -> str:
        state = "done" if self.done else ("accepted" if self.accepted_at is not None else "sent")
        return f"<BackgroundJob {self.job_uuid} {self.command!r} {state}>"


class JobTracker:
    """Pending jobs by Job-UUID, plus the single deadline timer."""

    def __init__(self) -> None:
        self._jobs: dict[str, BackgroundJob] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._timer_scope: trio.CancelScope | None = None
        self.completed = 0
        self.timed_out = 0
        self._awaiting_ack: set[str] = set()
        #: Called whenever a job settles (the drain waits on it).
        self.on_change: Callable[[], None] = lambda: None

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def unaccepted(self) -> int:
        """Registered jobs whose caller has not seen the acceptance yet."""
        return len(self._awaiting_ack)

    def register(self, job: BackgroundJob) -> None:
        self._jobs[job.job_uuid] = job
        self._awaiting_ack.add(job.job_uuid)

    def get(self, job_uuid: str) -> BackgroundJob | None:
        return self._jobs.get(job_uuid)

    def discard(self, job: BackgroundJob) -> None:
        self._jobs.pop(job.job_uuid, None)

    def accepted(self, job: BackgroundJob, now: float, timeout: float) -> None:
        """Start the completion deadline (unless the completion already arrived)."""
        self._awaiting_ack.discard(job.job_uuid)
        job.accepted_at = now
        if job.done:
            return
        job.deadline = now + timeout
        heapq.heappush(self._deadlines, (job.deadline, job.job_uuid))
        if self._timer_scope is not None and job.deadline < self._timer_scope.deadline:
            self._timer_scope.deadline = job.deadline

    def complete(self, event: BackgroundJobEvent) -> BackgroundJob | None:
        """Resolve the job this BACKGROUND_JOB belongs to; unknown ids are ignored (B-BG-6)."""
        job = self._jobs.pop(event.job_uuid or "", None)
        if job is not None:
            self._awaiting_ack.discard(job.job_uuid)
        if job is not None and job._settle(event, None):
            self.completed += 1
            self.on_change()
            return job
        return None

    def fail(self, job: BackgroundJob, error: BaseException) -> None:
        self._jobs.pop(job.job_uuid, None)
        self._awaiting_ack.discard(job.job_uuid)
        job._settle(None, error)
        self.on_change()

    def fail_unaccepted(self, error: EslError) -> None:
        """Jobs whose acceptance never arrived die with their socket (B-BG-8)."""
        for job in [j for j in self._jobs.values() if j.accepted_at is None]:
            self.fail(job, error)

    def fail_all(self, error: BaseException) -> None:
        for job in list(self._jobs.values()):
            self.fail(job, error)

    async def run_timer(self) -> None:
        """Expire jobs at their completion deadline. One task for every job."""
        while True:
            with trio.CancelScope() as scope:
                self._timer_scope = scope
                scope.deadline = self._deadlines[0][0] if self._deadlines else math.inf
                await trio.sleep_forever()
            self._timer_scope = None
            self._expire(trio.current_time())

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, job_uuid = heapq.heappop(deadlines)
            job = self._jobs.get(job_uuid)
            if job is not None and job.deadline <= now:
                self.timed_out += 1
                accepted = job.accepted_at if job.accepted_at is not None else job.deadline
                timeout = job.deadline - accepted
                self.fail(job, CommandTimeoutError(f"bgapi {job.command} (completion)", timeout))
