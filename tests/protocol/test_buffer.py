"""Issue 10 item 10: one receive buffer for FrameParser and CommandReader."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from esl_trio.protocol import CommandReader, FrameParser
from esl_trio.protocol._buffer import ReceiveBuffer


def test_issue10_item10_both_readers_share_one_buffer_type() -> None:
    assert type(FrameParser()._rb) is ReceiveBuffer
    assert type(CommandReader()._rb) is ReceiveBuffer


@given(steps=st.lists(st.tuples(st.binary(max_size=64), st.integers(0, 64)), max_size=40))
def test_issue10_item10_buffer_keeps_unconsumed_bytes_and_stays_compact(
    steps: list[tuple[bytes, int]],
) -> None:
    """Against a plain bytes model: same unconsumed bytes, indexes shifted by what was dropped,
    and the consumed prefix never outgrows the unconsumed part plus one chunk."""
    buffer = ReceiveBuffer()
    model = b""
    for chunk, take in steps:
        before = len(buffer.data)
        shift = buffer.append(chunk)
        assert buffer.start == 0 or buffer.start * 2 < before  # dropped once half consumed
        assert len(buffer.data) == before - shift + len(chunk)
        model += chunk
        assert bytes(buffer.data[buffer.start :]) == model
        take = min(take, len(buffer))
        assert buffer.consume(buffer.start + take) == model[:take]
        model = model[take:]
        assert len(buffer) == len(model)
        assert buffer.scan == buffer.start
    # amortised compaction: after one more append the dropped prefix is bounded
    buffer.append(b"x")
    assert buffer.start * 2 < len(buffer.data) or buffer.start == 0
