"""Property: random interleavings of api calls, cancellations and injected events keep every
reply with its caller and every event in order (B-API-2/3, B-EVS-1)."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_trio import open_esl_runtime
from esl_trio.config import SubscriptionConfig
from esl_trio.protocol import Event
from esl_trio.testing import open_fake_freeswitch
from tests.runtime.conftest import base_config

# One step: ("api", delay before the call, cancel after this many seconds or None)
#        or ("emit", delay) or ("hold"/"release", delay).
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("api"),
            st.floats(0, 0.3),
            st.none() | st.floats(0.01, 0.5),
        ),
        st.tuples(st.just("emit"), st.floats(0, 0.3), st.none()),
        st.tuples(st.sampled_from(["hold", "release"]), st.floats(0, 0.3), st.none()),
    ),
    min_size=1,
    max_size=25,
)


async def scenario(plan: list[tuple[str, float, float | None]]) -> None:
    async with open_fake_freeswitch() as fs:
        fs.reply_delay = 0.05
        config = base_config(subscriptions=SubscriptionConfig(custom=["prop::seq"]))
        async with open_esl_runtime(config, connector=fs.connector) as rt:
            emitted: list[str] = []
            answers: dict[int, str] = {}
            async with rt.events.receiver(subclasses=["prop::seq"], max_buffer=1000) as events:
                async with trio.open_nursery() as nursery:
                    for index, (kind, delay, cancel_after) in enumerate(plan):
                        await trio.sleep(delay)
                        if kind == "api":
                            nursery.start_soon(call, rt, index, cancel_after, answers)
                        elif kind == "emit":
                            emitted.append(str(index))
                            fs.emit("CUSTOM", {"Seq": str(index)}, subclass="prop::seq")
                        elif kind == "hold":
                            fs.hold_replies()
                        else:
                            fs.release_replies()
                    await trio.sleep(1)
                    fs.release_replies()
                # A last event marks the end: the fake keeps event order, so once it is in,
                # every earlier event is too (replies and events may interleave freely).
                fs.emit("CUSTOM", {"Seq": "end"}, subclass="prop::seq")
                seen = []
                with trio.fail_after(30):
                    async for item in events:
                        assert isinstance(item, Event)
                        if item["Seq"] == "end":
                            break
                        seen.append(item["Seq"])
            assert seen == emitted
            for index, text in answers.items():
                assert text == f"call-{index}", (index, text)


async def call(rt: object, index: int, cancel_after: float | None, answers: dict[int, str]) -> None:
    with trio.move_on_after(cancel_after if cancel_after is not None else 1e9):
        reply = await rt.api("echo", f"call-{index}")  # type: ignore[attr-defined]
        answers[index] = reply.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_replies_stay_with_their_callers_and_events_stay_in_order(
    plan: list[tuple[str, float, float | None]],
) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(scenario, plan, clock=clock)
