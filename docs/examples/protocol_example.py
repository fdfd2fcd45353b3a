"""Feed real Event Socket bytes through the sans-I/O client, no socket, no trio.

Run: .venv/bin/python docs/examples/protocol_example.py
"""

from esl_trio.protocol import (
    MAX_COMMAND_HEADER_BYTES,
    NEED_DATA,
    Api,
    ApiReply,
    Auth,
    ChannelEvent,
    ClientProtocol,
    CommandReply,
    EventFormat,
    EventSubscribe,
    LocalProtocolError,
)
from esl_trio.protocol.server import api_response, auth_request, command_reply, event_frame

proto: ClientProtocol[None] = ClientProtocol()


def drain() -> None:
    """Print every complete message; stop at NEED_DATA."""
    while (message := proto.next_event()) is not NEED_DATA:
        print(f"  {message!r}")


# 1. The server greets; we may now send credentials.
proto.receive_data(auth_request())
drain()
wire = proto.send(Auth("ClueCon"))
print("send:", wire)  # b'auth ClueCon\n\n' -- write these bytes to your socket

# 2. "+OK accepted", delivered in two arbitrary chunks (framing does not care).
reply = command_reply("+OK accepted")
proto.receive_data(reply[:10])
drain()  # nothing yet: NEED_DATA
proto.receive_data(reply[10:])
drain()
print("state:", proto.state.value)

# 3. Subscribe, then run an api command. Replies carry no ids: they are matched by order.
proto.send(EventSubscribe(format="plain", names=("CHANNEL_ANSWER",)))
proto.send(Api("status"))
print("replies pending:", proto.replies_pending)

# 4. The replies and an event arrive coalesced in one read, as they do on a real socket.
event = event_frame(
    EventFormat.PLAIN,
    [
        ("Event-Name", "CHANNEL_ANSWER"),
        ("Unique-ID", "0b7f0c3e-6a4e-4f1e-9a55-4b0a2f7d1c11"),
        ("Caller-Caller-ID-Name", "Alice Smith"),  # percent-encoded on the wire
        ("Answer-State", "answered"),
    ],
)
proto.receive_data(
    command_reply("+OK event listener enabled plain") + api_response("UP 0 years, 1 day\n") + event
)
messages: list[object] = []
while (message := proto.next_event()) is not NEED_DATA:
    messages.append(message)
    print(f"  {message!r}")

subscribed, status, answer = messages
assert isinstance(subscribed, CommandReply)  # narrow the Message union for the type checker
assert isinstance(status, ApiReply)
assert isinstance(answer, ChannelEvent)
print("subscribe ok:", subscribed.ok, "| api text:", repr(status.text))
print("event:", answer.name, answer.unique_id)  # cheap: nothing else decoded yet
print("caller:", answer.get("Caller-Caller-ID-Name"))  # first full access decodes the rest
cause: str = answer.get("Hangup-Cause", "")  # a str default makes the result a str
print("wire value:", b"Alice%20Smith" in answer.raw, "| cause:", repr(cause))

# 5. Injection is impossible: an invalid command is never built, nothing is written.
try:
    Api("status", "\n\nexit")
except LocalProtocolError as exc:
    print("refused:", exc)

# 6. Nor can a long argument smuggle a second command past FreeSWITCH's 10 MiB cut.
try:
    Api("echo", "A" * MAX_COMMAND_HEADER_BYTES + "bgapi originate loopback/1 &park")
except LocalProtocolError as exc:
    print("refused:", str(exc)[:60], "...")
