"""bgapi job tracking and the single deadline timer (B-BG-5…9)."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel

from esl_trio import CommandTimeoutError, ConnectionLostError
from esl_trio._jobs import BackgroundJob, JobTracker
from esl_trio.protocol import BackgroundJobEvent, EventFormat, make_event
from esl_trio.protocol.server import encode_event


def completion(job_uuid: str) -> BackgroundJobEvent:
    headers = [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", job_uuid)]
    event = make_event(EventFormat.PLAIN, encode_event(EventFormat.PLAIN, headers, b"+OK\n"))
    assert isinstance(event, BackgroundJobEvent)
    return event


async def test_out_of_order_completions_resolve_their_own_job_B_BG_6() -> None:
    tracker = JobTracker()
    a, b = BackgroundJob("a", "status", ""), BackgroundJob("b", "status", "")
    for job in (a, b):
        tracker.register(job)
        tracker.accepted(job, trio.current_time(), 10)
    assert tracker.complete(completion("b")) is b
    assert tracker.complete(completion("zzz")) is None
    assert tracker.complete(completion("a")) is a
    assert (await a.wait()).job_uuid == "a"
    assert (await b.wait()).job_uuid == "b"
    assert len(tracker) == 0


async def test_completion_before_acceptance_is_kept() -> None:
    """The reader may see the completion before the bgapi caller resumes."""
    tracker = JobTracker()
    job = BackgroundJob("j", "status", "")
    tracker.register(job)
    tracker.complete(completion("j"))
    tracker.accepted(job, trio.current_time(), 10)
    assert (await job.wait()).job_uuid == "j"


async def test_one_timer_expires_jobs_at_their_deadline_B_BG_7(
    autojump_clock: trio.abc.Clock,
) -> None:
    tracker = JobTracker()
    jobs = [BackgroundJob(str(i), "originate", "") for i in range(3)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tracker.run_timer)
        await trio.lowlevel.checkpoint()
        for delay, job in zip((30, 10, 20), jobs, strict=True):
            tracker.register(job)
            tracker.accepted(job, trio.current_time(), delay)
        start = trio.current_time()
        with pytest.raises(CommandTimeoutError, match="completion"):
            await jobs[1].wait()
        assert trio.current_time() - start == 10
        with pytest.raises(CommandTimeoutError):
            await jobs[2].wait()
        assert trio.current_time() - start == 20
        assert tracker.complete(completion("0")) is jobs[0]  # still in time
        assert tracker.complete(completion("1")) is None  # late completion ignored
        nursery.cancel_scope.cancel()
    assert tracker.timed_out == 2


async def test_unaccepted_jobs_die_with_the_socket_B_BG_8() -> None:
    tracker = JobTracker()
    waiting, accepted = BackgroundJob("w", "x", ""), BackgroundJob("a", "x", "")
    tracker.register(waiting)
    tracker.register(accepted)
    tracker.accepted(accepted, trio.current_time(), 10)
    tracker.fail_unaccepted(ConnectionLostError("gone", written=True))
    with pytest.raises(ConnectionLostError):
        await waiting.wait()
    assert not accepted.done
    assert len(tracker) == 1
