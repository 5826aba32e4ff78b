"""A sans-I/O decoder for Server-Sent Events: ``feed(bytes) -> [events]``.

It follows the WHATWG "event stream interpretation" rules exactly: ``\\r\\n``, ``\\r`` and ``\\n``
all end a line (a ``\\r\\n`` split across two chunks counts once), a leading BOM is dropped,
comments and unknown fields are ignored, one space after the colon is stripped, ``data`` lines
are joined with ``\\n``, an ``id`` containing NUL is ignored, ``retry`` takes ASCII digits only,
and an event is dispatched only at a blank line and only when it has data. It works on bytes, so
a UTF-8 character split across chunks needs no special care; values are decoded with
replacement characters, as the spec asks.

The hot path is a stream of ``data: <json>\n\n`` frames (every chat API). The buffer only ever
holds ``\n`` line endings, so a read holding exactly one frame becomes one event after a single
scan, and a read holding many is split once on ``\n`` and checked for the all-``data:`` shape
with C-level loops; anything else takes the general line-by-line path.

Example:
    ```python
    decoder = SSEDecoder()
    for chunk in (b"data: hel", b"lo\\n\\n"):
        for event in decoder.feed(chunk):
            print(event.data)  # hello
    ```
"""

from __future__ import annotations

from itertools import repeat

import msgspec

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_CR = 0x0D
_COLON = 0x3A


class ServerSentEvent(msgspec.Struct, frozen=True, gc=False):
    """One dispatched event.

    ``event`` is ``"message"`` when the stream named none; ``id`` is the stream's last event ID
    at dispatch (it persists across events, as in the spec); ``retry`` is the reconnection time
    in milliseconds set by this event's block, if any.
    """

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Incremental SSE decoder; feed it the raw bytes of a response body as they arrive.

    It holds at most one incomplete event in memory. ``last_event_id`` and ``retry`` (the latest
    reconnection time in ms, or ``None``) are kept for callers that reconnect.
    """

    __slots__ = ("_at_start", "_pending", "_skip_lf", "_tail_lf", "last_event_id", "retry")

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # bytes of the incomplete block, only "\n" line endings
        self._tail_lf = False  # the pending bytes end with "\n" (a "\n" next completes a block)
        self._skip_lf = False  # the last chunk ended with "\r": a "\n" next is the same line end
        self._at_start = True  # a BOM may still be coming
        self.last_event_id = ""
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume ``chunk`` and return the events it completed (possibly none)."""
        # Hot path notes: bytes.find() is used over `in` (several times faster on CPython), and
        # each chunk is scanned a fixed number of times whatever it holds.
        if self._at_start or self._skip_lf:
            chunk = self._prelude(chunk)
        if chunk.find(b"\r") >= 0:
            # Normalise here so the buffer only ever holds "\n"; a trailing "\r" already ends
            # its line (no waiting for the next chunk), and a "\n" after it is then dropped.
            self._skip_lf = chunk[-1] == _CR
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not chunk:
            return []
        pending = self._pending
        if not pending and chunk.find(b"\n") == len(chunk) - 2 and chunk[-1] == _LF:
            # Exactly one complete block with a single line: what a server writes per token.
            self._tail_lf = False
            if chunk[:6] == b"data: ":
                data = chunk[6:-2].decode("utf-8", "replace")
                return [ServerSentEvent(data, "message", self.last_event_id)]
            event = self._parse_block(chunk[:-2])
            return [] if event is None else [event]
        if pending:
            if chunk.find(b"\n\n") < 0 and not (self._tail_lf and chunk[0] == _LF):
                pending.append(chunk)  # still no blank line: avoid re-joining a growing buffer
                self._tail_lf = chunk[-1] == _LF
                return []
            pending.append(chunk)
            chunk = b"".join(pending)
            pending.clear()
        end = chunk.rfind(b"\n\n")
        if end < 0:
            pending.append(chunk)  # no blank line yet: nothing to dispatch
            self._tail_lf = chunk[-1] == _LF
            return []
        tail = chunk[end + 2 :]
        if tail:
            pending.append(tail)
            self._tail_lf = tail[-1] == _LF
        else:
            self._tail_lf = False
        # Fast path: the complete part is nothing but "data: <line>\n\n" blocks. Splitting on
        # "\n" (much cheaper than on "\n\n") gives [data, b"", data, b"", ...] exactly then,
        # and that shape is checked with C-level loops, not block by block in Python.
        lines = chunk.split(b"\n")
        del lines[len(lines) - tail.count(b"\n") - 1 :]
        data_lines = lines[0::2]
        if lines[1::2].count(b"") == len(data_lines) and all(
            map(bytes.startswith, data_lines, repeat(b"data: "))
        ):
            last_id = self.last_event_id
            return [
                ServerSentEvent(line[6:].decode("utf-8", "replace"), "message", last_id)
                for line in data_lines
            ]
        events: list[ServerSentEvent] = []
        for block in chunk[:end].split(b"\n\n"):
            if block:
                event = self._parse_block(block)
                if event is not None:
                    events.append(event)
        return events

    def _prelude(self, chunk: bytes) -> bytes:
        """Drop a BOM at the very start, or a "\n" completing a "\r\n" split across chunks."""
        if self._at_start:
            head = b"".join(self._pending) + chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._pending = [head] if head else []
                return b""  # too short to tell whether it is a BOM yet
            self._pending = []
            self._at_start = False
            chunk = head[3:] if head.startswith(_BOM) else head
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
        return chunk

    def flush(self) -> list[ServerSentEvent]:
        """Signal the end of the stream.

        Per the spec an event not closed by a blank line is discarded, so this returns no
        events; it resets the buffer so the decoder can be reused for a new connection (the
        last event ID is kept for the reconnect).
        """
        self._pending = []
        self._tail_lf = self._skip_lf = False
        self._at_start = True
        return []

    def _parse_block(self, block: bytes) -> ServerSentEvent | None:
        data: list[bytes] = []
        event_type = b""
        retry: int | None = None
        for line in block.split(b"\n"):
            if not line or line[0] == _COLON:
                continue  # a leading blank line of an empty block, or a comment
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event_type = value
            elif name == b"id":
                if b"\x00" not in value:
                    self.last_event_id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                # bytes.isdigit() is ASCII-only, exactly the spec's rule.
                retry = self.retry = int(value)
        if not data:
            return None  # no data buffer: the spec dispatches nothing (type is reset)
        return ServerSentEvent(
            b"\n".join(data).decode("utf-8", "replace"),
            event_type.decode("utf-8", "replace") if event_type else "message",
            self.last_event_id,
            retry,
        )
