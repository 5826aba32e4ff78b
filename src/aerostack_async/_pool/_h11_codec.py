"""The h11 dialect: the pure-Python HTTP/1.1 state machine frames requests and parses responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import h11

from ._codec import (
    MAX_HEAD_SIZE,
    HeadFields,
    InvalidRequest,
    LocalProtocolFailure,
    RemoteProtocolFailure,
    ResponseHead,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["H11"]

_EOM = h11.EndOfMessage()
_NEED_DATA = h11.NEED_DATA
_PAUSED = h11.PAUSED
_DONE = h11.DONE


class H11Codec:
    """A connection's h11 state machine behind the `Codec` interface."""

    __slots__ = ("_chunks", "_eof", "_fed", "_h", "complete", "continued", "head")

    def __init__(self) -> None:
        self._h = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        self.head: ResponseHead | None = None
        self.complete = False
        self.continued = False
        self._eof = False
        self._fed = 0  # bytes received before the head: informational responses count too
        self._chunks: list[bytes] = []

    def start(self, prepared: object) -> bytes:
        """The request head's bytes."""
        assert isinstance(prepared, h11.Request)
        self.head = None
        self.complete = False
        self.continued = False
        self._fed = 0
        return self._send(prepared)

    def body(self, data: bytes) -> bytes:
        """``data``, framed as the request's headers say."""
        return self._send(h11.Data(data=data)) if data else b""

    def end(self) -> bytes:
        """The end of the request body."""
        return self._send(_EOM)

    def _send(self, event: h11.Request | h11.Data | h11.EndOfMessage) -> bytes:
        try:
            return self._h.send(event) or b""
        except h11.LocalProtocolError as exc:
            raise LocalProtocolFailure(str(exc)) from None

    def feed(self, data: bytes) -> None:
        """Parse what arrived, up to the end of the response."""
        h = self._h
        if not data:
            self._eof = True  # a body that ran to the server's close leaves nothing to reuse
        elif self.head is None:
            self._fed += len(data)
        try:
            h.receive_data(data)
            while not self.complete:
                event = h.next_event()
                if event is _NEED_DATA or event is _PAUSED:
                    break
                kind = type(event)
                if kind is h11.Data:
                    self._chunks.append(bytes(event.data))  # type: ignore[union-attr]
                elif kind is h11.Response:
                    if event.status_code > 599:  # type: ignore[union-attr]
                        # h11 reads any three digits; below 100 it refuses itself.
                        raise RemoteProtocolFailure(
                            "unsupported status line "
                            f"(HTTP/{event.http_version.decode()} {event.status_code})"  # type: ignore[union-attr]
                        )
                    self.head = ResponseHead(
                        event.status_code,  # type: ignore[union-attr]
                        event.reason,  # type: ignore[union-attr]
                        event.http_version,  # type: ignore[union-attr]
                        event.headers.raw_items(),  # type: ignore[union-attr]
                    )
                elif kind is h11.EndOfMessage:
                    self.complete = True
                elif kind is h11.InformationalResponse:
                    if event.status_code == 100:  # type: ignore[union-attr]
                        self.continued = True
                else:  # pragma: no cover - h11 raises first
                    raise RemoteProtocolFailure(f"unexpected {event!r}")
        except h11.RemoteProtocolError as exc:
            raise RemoteProtocolFailure(str(exc)) from None
        if self.head is None and self._fed > MAX_HEAD_SIZE:
            # h11 bounds each head; this bounds them all (any number of 100 Continue), as the
            # httptools dialect does.
            raise RemoteProtocolFailure(f"response head larger than {MAX_HEAD_SIZE} bytes")

    def take(self) -> list[bytes]:
        """Body bytes parsed so far."""
        chunks = self._chunks
        self._chunks = []
        return chunks

    def reuse(self) -> bool:
        """Whether both sides finished cleanly with keep-alive; if so, begin the next cycle.

        Not if bytes followed the response: h11 would read them as the next response.
        """
        h = self._h
        if self._eof or h.trailing_data[0]:
            return False
        if h.our_state is _DONE and h.their_state is _DONE:
            h.start_next_cycle()
            return True
        return False


class H11Dialect:
    """h11 as the pool's protocol library."""

    name = "h11"

    def prepare(self, request: httpx.Request) -> h11.Request:
        """h11's request event: h11 validates the method, target and every header.

        Both Content-Length and Transfer-Encoding, which h11 would send, are refused too.
        """
        headers = request.headers
        if "content-length" in headers and "transfer-encoding" in headers:
            raise InvalidRequest
        try:
            return h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
        except (h11.LocalProtocolError, UnicodeEncodeError):  # (a method that is not ASCII)
            raise InvalidRequest from None

    def prepare_call(
        self,
        method: str,
        target: bytes,
        fields: HeadFields,
        extra: Mapping[str, str],
        length: int | None,
    ) -> h11.Request:
        """`prepare()` for a request given by its parts (h11 checks every header each time)."""
        merged = fields.merged(extra)
        if length is not None:
            merged.append((b"Content-Length", str(length).encode("ascii")))
        names = {name.lower() for name, _ in merged}
        if b"content-length" in names and b"transfer-encoding" in names:
            raise InvalidRequest
        try:
            return h11.Request(method=method, target=target, headers=merged)
        except (h11.LocalProtocolError, UnicodeEncodeError):
            raise InvalidRequest from None

    def codec(self) -> H11Codec:
        """A new connection's state machine."""
        return H11Codec()


H11 = H11Dialect()
