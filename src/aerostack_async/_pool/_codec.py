"""What the pool needs from an HTTP/1.1 protocol library, and the choice between the two we ship.

A *dialect* turns an ``httpx.Request`` into a prepared request (validating it before any
connection is touched) and makes one *codec* per connection. The codec frames the request's
bytes and parses the response as bytes arrive. Two dialects implement this:

- ``httptools`` (the default when it is installed): llhttp, the C parser Node.js uses, parses
  responses; request heads are validated with the same rules h11 applies, then written out.
- ``h11``: the pure-Python state machine does both directions.

The transport conformance suite (``tests/transport``) runs on both, and ``test_codecs.py`` feeds
both the same bytes: they agree on all of it. Beyond it, httptools is the stricter of the two
(it refuses obs-folded headers, bare LF line ends, HTTP/2.0 status lines and responses with both
framing headers, which h11 lets through). It does not reuse a connection after a response to
HEAD without framing headers, and it does reuse an HTTP/1.0 connection the server asked to keep
alive, where h11 never reuses one.
Pick one with ``AsyncPoolTransport(parser=...)`` or ``AEROSTACK_HTTP_PARSER=httptools|h11``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CALL_SPECIAL",
    "MAX_HEAD_SIZE",
    "PARSER_ENV",
    "TOKEN",
    "Codec",
    "Dialect",
    "HeadFields",
    "InvalidRequest",
    "LocalProtocolFailure",
    "RemoteProtocolFailure",
    "ResponseHead",
    "dialect",
    "explain_invalid",
    "explain_invalid_parts",
]

PARSER_ENV = "AEROSTACK_HTTP_PARSER"
"""``httptools`` or ``h11``: the protocol library of new pools (default: httptools if installed)."""

MAX_HEAD_SIZE = 100 * 1024
"""Largest response head (status line and headers) we accept."""


class InvalidRequest(Exception):
    """The request cannot be sent as it is (a bad header, method or target); nothing was sent."""


class LocalProtocolFailure(Exception):
    """We were about to break the protocol (a body longer than its Content-Length, say)."""


class RemoteProtocolFailure(Exception):
    """The server broke the protocol (a malformed head, a truncated body, ...)."""


class ResponseHead:
    """A response's status line and headers, as they came (header names keep their case)."""

    __slots__ = ("headers", "http_version", "reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        http_version: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.http_version = http_version
        self.headers = headers


CALL_SPECIAL = frozenset({"host", "content-length", "transfer-encoding", "connection", "expect"})
"""Header names that change how a request is framed or handled: a call that sets one of them
per call is prepared the general way (every header checked together), not the fast way."""


class HeadFields:
    """Header fields many requests share (a client's own headers), checked once per dialect.

    ``raw`` are the fields as sent; ``names`` their lowered names (a call's own header of the
    same name replaces the shared one). A dialect keeps what it checked in ``checked``, so that
    a call only checks its own few headers.
    """

    __slots__ = ("checked", "names", "raw", "special")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self.names = frozenset(name.decode("latin-1").lower() for name, _ in raw)
        # Only Host may be among them for the fast way (one per request, checked once).
        self.special = bool(self.names & (CALL_SPECIAL - {"host"}))
        self.checked: dict[str, object] = {}

    def merged(self, extra: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        """These fields with a call's own (which replace shared ones of the same name)."""
        replaced = {name.lower() for name in extra}
        fields = [pair for pair in self.raw if pair[0].decode("latin-1").lower() not in replaced]
        fields += [(name.encode("utf-8"), value.encode("utf-8")) for name, value in extra.items()]
        return fields


class Codec(Protocol):
    """One connection's protocol state: frames requests, parses responses.

    Per exchange: `start()`, then `body()` per chunk of the body and `end()`; feed what
    the socket returns to `feed()` (``b""`` for end of file) until `head` is set, then
    until `complete`, taking body bytes with `take()`. Finally `reuse()` says whether
    the connection may carry another exchange (and readies it for one).
    """

    head: ResponseHead | None
    complete: bool
    continued: bool
    """Whether this exchange has received ``100 Continue`` (reset by `start()`)."""

    def start(self, prepared: object) -> bytes:
        """Begin an exchange: the bytes of the request head."""

    def body(self, data: bytes) -> bytes:
        """The bytes that send ``data`` as part of the request body (framed, if chunked)."""

    def end(self) -> bytes:
        """The bytes that end the request body; checks that it matched its Content-Length."""

    def feed(self, data: bytes) -> None:
        """Parse bytes from the socket (``b""``: the server closed its side)."""

    def take(self) -> list[bytes]:
        """The body bytes parsed since the last call (the list is the caller's)."""

    def reuse(self) -> bool:
        """After a complete response: whether both sides allow another exchange (and begin it)."""


class Dialect(Protocol):
    """A protocol library, as the pool uses it."""

    name: str

    def prepare(self, request: httpx.Request) -> object:
        """Validate ``request`` into what `Codec.start()` takes; raises InvalidRequest."""

    def prepare_call(
        self,
        method: str,
        target: bytes,
        fields: HeadFields,
        extra: Mapping[str, str],
        length: int | None,
    ) -> object:
        """The same as `prepare()` for a request given by its parts, with no ``httpx.Request``:
        ``fields`` (shared, checked once), the call's own headers ``extra`` and, unless None, a
        ``Content-Length`` of ``length``. Raises InvalidRequest."""

    def codec(self) -> Codec:
        """A codec for a new connection."""


def dialect(name: str | None = None) -> Dialect:
    """The dialect called ``name``; else ``AEROSTACK_HTTP_PARSER``; else the fastest installed."""
    choice = (name or os.environ.get(PARSER_ENV, "") or "auto").strip().lower()
    if choice not in ("auto", "httptools", "h11"):
        raise ValueError(f"the HTTP parser must be 'httptools' or 'h11', not {choice!r}")
    if choice in ("auto", "httptools"):
        try:
            from ._httptools_codec import HTTPTOOLS
        except ImportError:
            if choice == "httptools":
                raise
        else:
            return HTTPTOOLS
    from ._h11_codec import H11

    return H11


# The request grammar both dialects check (h11's), and the error message naming the header at
# fault but never its value (a credential).
TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
"""h11's ``token`` (h11/_abnf.py): methods and header names."""
_BAD_VALUE = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")


def explain_invalid(request: httpx.Request) -> str:
    """Why ``request`` cannot be sent, naming the header at fault but not showing its value."""
    return explain_invalid_parts(request.method, request.url.path, request.headers.raw)


def explain_invalid_parts(method: str, path: str, fields: list[tuple[bytes, bytes]]) -> str:
    """`explain_invalid()` for a request given by its parts."""
    for name, value in fields:
        if not TOKEN.fullmatch(name):
            return f"Invalid request header name {name!r}: nothing was sent"
        if _BAD_VALUE.search(value):
            return (
                f"Invalid value for request header {name.decode('latin-1')!r}: it contains CR, LF "
                "or NUL, or leading/trailing whitespace (value not shown); nothing was sent"
            )
    return f"Invalid request line or headers for {method} {path!r}: nothing was sent"
