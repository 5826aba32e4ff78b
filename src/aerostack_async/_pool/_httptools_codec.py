"""The httptools dialect: llhttp (the C parser Node.js uses) parses responses.

Requests are validated with h11's own grammar (a token method, a visible-ASCII target, token
header names, values without NUL, CR, LF or surrounding whitespace, a Host header, one
Content-Length, only ``chunked`` as a transfer coding, never both framing headers) and then
written out, so a request either one would refuse, this refuses too. What llhttp does not do
for a client, this module does:

- a response to HEAD ends with its head, whatever its Content-Length says;
- a body framed by neither Content-Length nor chunked coding ends when the server closes;
- a response head larger than `MAX_HEAD_SIZE` is refused;
- anything after the end of a response (or a parse error there) means the connection is not
  reused, and a ``Connection: close`` on either side is honoured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httptools

from ._codec import (
    CALL_SPECIAL,
    MAX_HEAD_SIZE,
    TOKEN,
    HeadFields,
    InvalidRequest,
    LocalProtocolFailure,
    RemoteProtocolFailure,
    ResponseHead,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["HTTPTOOLS"]

# h11's grammar (h11/_abnf.py), so that both dialects refuse the same requests.
_TARGET = re.compile(rb"[\x21-\x7e]+")
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_DIGITS = re.compile(rb"[0-9]{1,20}")
_VERSIONS = {"1.1": b"1.1", "1.0": b"1.0"}
_NO_BODY_STATUSES = frozenset({204, 304})


class Prepared:
    """A validated request: its head's bytes and how its body is framed."""

    __slots__ = ("chunked", "close", "head", "is_head", "length")

    def __init__(self, head: bytes, length: int, chunked: bool, close: bool, is_head: bool) -> None:
        self.head = head
        self.length = length  # declared Content-Length (0 when neither framing header is set)
        self.chunked = chunked
        self.close = close  # the request asks to close the connection after the response
        self.is_head = is_head


class HttptoolsCodec:
    """One connection's exchanges, parsed by a fresh llhttp response parser each."""

    __slots__ = (
        "_chunked",
        "_chunks",
        "_close",
        "_ended",
        "_extra",
        "_fault",
        "_fed",
        "_headers",
        "_informational",
        "_is_head",
        "_keep_alive",
        "_parser",
        "_reason",
        "_remaining",
        "complete",
        "continued",
        "head",
    )

    def __init__(self) -> None:
        self.head: ResponseHead | None = None
        self.complete = False
        self.continued = False
        self._chunks: list[bytes] = []
        self._keep_alive = False

    # -- the request ----------------------------------------------------------------------------

    def start(self, prepared: object) -> bytes:
        """Begin an exchange: a new parser, and the request head's bytes."""
        assert isinstance(prepared, Prepared)
        self._parser = httptools.HttpResponseParser(self)
        self.head = None
        self.complete = False
        self.continued = False
        self._chunks = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._fed = 0
        self._ended = False
        self._extra = False
        self._fault: str | None = None
        self._informational = False
        self._keep_alive = False
        self._is_head = prepared.is_head
        self._close = prepared.close
        self._chunked = prepared.chunked
        self._remaining = prepared.length
        return prepared.head

    def body(self, data: bytes) -> bytes:
        """``data`` framed: a chunk, or checked against the declared Content-Length."""
        if not data:
            return b""
        if self._chunked:
            return b"%x\r\n%b\r\n" % (len(data), data)
        remaining = self._remaining - len(data)
        if remaining < 0:
            raise LocalProtocolFailure("Too much data for declared Content-Length")
        self._remaining = remaining
        return data

    def end(self) -> bytes:
        """The last chunk, or nothing once the declared length has been sent."""
        if not self._chunked and self._remaining:
            raise LocalProtocolFailure("Too little data for declared Content-Length")
        self._ended = True
        return b"0\r\n\r\n" if self._chunked else b""

    # -- the response ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse what arrived; ``b""`` means the server closed its side."""
        if not data:
            self._end_of_file()
            return
        if self.head is None:
            self._fed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self.complete:
                raise RemoteProtocolFailure("the server switched protocols unasked") from None
            self._extra = True
        except httptools.HttpParserError as exc:
            if not self.complete:
                raise RemoteProtocolFailure(f"malformed response: {exc}") from None
            self._extra = True  # garbage after a complete response: keep it, drop the connection
        if self._fault is not None:
            raise RemoteProtocolFailure(self._fault)
        if self.head is None and self._fed > MAX_HEAD_SIZE:
            raise RemoteProtocolFailure(f"response head larger than {MAX_HEAD_SIZE} bytes")

    def _end_of_file(self) -> None:
        if self.complete:
            return
        head = self.head
        if head is None:
            if self._fed:
                raise RemoteProtocolFailure("peer closed connection in the middle of the head")
            raise RemoteProtocolFailure("peer closed connection without sending a response")
        for name, value in head.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                raise RemoteProtocolFailure(
                    "peer closed connection without sending complete message body"
                )
        # Framed by neither: the body ran until the server closed, and it has.
        self.complete = True
        self._keep_alive = False

    def take(self) -> list[bytes]:
        """Body bytes parsed so far."""
        chunks = self._chunks
        self._chunks = []
        return chunks

    def reuse(self) -> bool:
        """Whether the response ended cleanly and both sides allow keep-alive."""
        return (
            self.complete
            and self._ended  # a request cut short (the server answered early) ends the connection
            and self._keep_alive
            and not self._extra
            and not self._close
        )

    # -- llhttp's callbacks (they must not raise: llhttp would turn it into a parse error) --------

    def on_message_begin(self) -> None:
        if self.complete:
            self._extra = True  # a second response to one request

    def on_status(self, status: bytes) -> None:
        if self.head is None:
            self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        # Once the head is in, llhttp reports chunked trailers (and the headers of anything
        # glued on after the response) here too: they must not change the response's headers.
        if self.head is None:
            self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        parser = self._parser
        status = parser.get_status_code()
        version = _VERSIONS.get(parser.get_http_version())
        if version is None or status < 100 or status > 599:
            self._fault = f"unsupported status line (HTTP/{parser.get_http_version()} {status})"
            return
        if 100 <= status < 200 and status != 101:
            # Informational (100 Continue, 103 Early Hints): skipped, the real response follows.
            self._informational = True
            if status == 100:
                self.continued = True
            self._headers = []
            self._reason = b""
            return
        for name, value in self._headers:
            if name.lower() == b"transfer-encoding" and value.strip().lower() != b"chunked":
                # As h11: a coding other than chunked would hand back still-encoded bytes.
                self._fault = "unsupported Transfer-Encoding in the response"
                return
        self.head = ResponseHead(status, self._reason, version, self._headers)
        self._headers = []
        if self._is_head:
            # Its Content-Length describes the body a GET would get; none follows.
            self.complete = True
            self._keep_alive = parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self._extra = True
        else:
            self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self.complete:
            return
        self.complete = True
        # Asked now: llhttp forgets the message's flags once this callback returns.
        self._keep_alive = self._parser.should_keep_alive()


class _Checked:
    """A client's shared header fields, checked: their bytes, and what the head needs of them."""

    __slots__ = ("block", "close", "hosts")

    def __init__(self, block: bytes, hosts: int, close: bool) -> None:
        self.block = block
        self.hosts = hosts
        self.close = close


class HttptoolsDialect:
    """httptools as the pool's protocol library."""

    name = "httptools"

    def prepare(self, request: httpx.Request) -> Prepared:
        """Validate ``request`` as h11 would and write its head."""
        return self._prepare(request.method, request.url.raw_path, request.headers.raw)

    def prepare_call(
        self,
        method: str,
        target: bytes,
        fields: HeadFields,
        extra: Mapping[str, str],
        length: int | None,
    ) -> Prepared:
        """`prepare()` for a request given by its parts: the shared fields are checked once."""
        if fields.special or not fields.names.isdisjoint(name.lower() for name in extra):
            # A call's header replaces a shared one, or framing is in play: check them together.
            merged = fields.merged(extra)
            if length is not None:
                merged.append((b"Content-Length", str(length).encode("ascii")))
            return self._prepare(method, target, merged)
        checked = fields.checked.get("httptools")
        if checked is None:
            checked = fields.checked["httptools"] = self._check_shared(fields)
        assert isinstance(checked, _Checked)
        encoded = method.encode("ascii", "replace")
        if not TOKEN.fullmatch(encoded) or not _TARGET.fullmatch(target):
            raise InvalidRequest
        lines = [encoded, b" ", target, b" HTTP/1.1\r\n", checked.block]
        append = lines.append
        token = TOKEN.fullmatch
        field_value = _FIELD_VALUE.fullmatch
        for name, value in extra.items():
            raw_name = name.encode("utf-8")
            raw_value = value.encode("utf-8")
            if not token(raw_name) or not field_value(raw_value):
                raise InvalidRequest
            if name.lower() in CALL_SPECIAL:  # (framing headers go the general way)
                merged = fields.merged(extra)
                if length is not None:
                    merged.append((b"Content-Length", str(length).encode("ascii")))
                return self._prepare(method, target, merged)
            append(raw_name)
            append(b": ")
            append(raw_value)
            append(b"\r\n")
        if checked.hosts != 1:
            raise InvalidRequest
        if length is not None:
            append(b"Content-Length: %d\r\n\r\n" % length)
        else:
            append(b"\r\n")
        return Prepared(b"".join(lines), length or 0, False, checked.close, encoded == b"HEAD")

    def _check_shared(self, fields: HeadFields) -> _Checked:
        token = TOKEN.fullmatch
        field_value = _FIELD_VALUE.fullmatch
        lines: list[bytes] = []
        hosts = 0
        close = False
        for name, value in fields.raw:
            if not token(name) or not field_value(value):
                raise InvalidRequest
            lowered = name.lower()
            if lowered == b"host":
                hosts += 1
            elif lowered == b"connection":
                close = close or any(part.strip().lower() == b"close" for part in value.split(b","))
            lines += (name, b": ", value, b"\r\n")
        return _Checked(b"".join(lines), hosts, close)

    def _prepare(
        self, method_name: str, target: bytes, fields: list[tuple[bytes, bytes]]
    ) -> Prepared:
        method = method_name.encode("ascii", "replace")  # "?" is not a token character
        if not TOKEN.fullmatch(method) or not _TARGET.fullmatch(target):
            raise InvalidRequest
        lines = [method, b" ", target, b" HTTP/1.1\r\n"]
        append = lines.append
        token = TOKEN.fullmatch
        field_value = _FIELD_VALUE.fullmatch
        length: bytes | None = None
        chunked = close = False
        hosts = 0
        for name, value in fields:
            if not token(name) or not field_value(value):
                raise InvalidRequest
            lowered = name.lower()
            if lowered == b"content-length":
                values = {part.strip() for part in value.split(b",")}
                if len(values) != 1:
                    raise InvalidRequest
                value = values.pop()
                if not _DIGITS.fullmatch(value) or (length is not None and value != length):
                    raise InvalidRequest
                if length is not None:
                    continue  # the same length twice: send it once, as h11 does
                length = value
            elif lowered == b"transfer-encoding":
                if chunked or value.lower() != b"chunked":
                    raise InvalidRequest
                chunked = True
            elif lowered == b"host":
                hosts += 1
            elif lowered == b"connection":
                close = close or any(part.strip().lower() == b"close" for part in value.split(b","))
            append(name)
            append(b": ")
            append(value)
            append(b"\r\n")
        if hosts != 1 or (chunked and length is not None):
            raise InvalidRequest  # (both framings at once is how requests get smuggled)
        append(b"\r\n")
        return Prepared(
            b"".join(lines),
            int(length) if length is not None else 0,
            chunked,
            close,
            method == b"HEAD",
        )

    def codec(self) -> HttptoolsCodec:
        """A new connection's codec."""
        return HttptoolsCodec()


HTTPTOOLS = HttptoolsDialect()
