"""The two protocol libraries, fed the same bytes, must report the same response and reuse.

These run on the codecs directly (no sockets), so each case is one exact byte sequence. Where
the libraries differ by design (httptools refusing what h11 tolerates, say obs-folded headers),
the case is not here; the conformance suite covers behaviour over real connections.
"""

from __future__ import annotations

import httpx
import pytest

from aerostack_async._pool._codec import (
    Dialect,
    InvalidRequest,
    LocalProtocolFailure,
    RemoteProtocolFailure,
)
from aerostack_async._pool._h11_codec import H11
from aerostack_async._pool._httptools_codec import HTTPTOOLS

DIALECTS = [HTTPTOOLS, H11]


def outcome(dialect: Dialect, method: str, pieces: list[bytes], body: bytes = b"") -> object:
    """What a codec makes of ``pieces`` as the answer to a request with ``body``."""
    request = httpx.Request(method, "http://127.0.0.1/x", content=body)
    codec = dialect.codec()
    codec.start(dialect.prepare(request))
    codec.body(body)
    codec.end()
    try:
        for piece in pieces:
            codec.feed(piece)
            if codec.complete:
                break
    except RemoteProtocolFailure:
        return "refused"
    head = codec.head
    assert head is not None
    return (head.status_code, head.headers, b"".join(codec.take()), codec.complete, codec.reuse())


CASES = {
    "content-length": ("GET", [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"]),
    "chunked": (
        "GET",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"],
    ),
    "chunked with trailers": (
        "GET",
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
            b"Content-Encoding: gzip\r\nX-Trailer: t\r\n\r\n"
        ],
    ),
    "split across reads": (
        "GET",
        [b"HTTP/1.1 200 O", b"K\r\nContent-Le", b"ngth: 2\r\n\r", b"\nh", b"i"],
    ),
    "a second response glued on": (
        "GET",
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"
        ],
    ),
    "garbage after": ("GET", [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\x00garbage"]),
    "HEAD with a length": ("HEAD", [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"]),
    "100 Continue first": (
        "GET",
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"],
    ),
    "204": ("GET", [b"HTTP/1.1 204 No Content\r\n\r\n"]),
    "connection close": (
        "GET",
        [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
    ),
    "HTTP/1.0": ("GET", [b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"]),
    "no reason phrase": ("GET", [b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx"]),
    "close-delimited": ("GET", [b"HTTP/1.1 200 OK\r\n\r\nabc", b""]),
    "truncated length": ("GET", [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", b""]),
    "truncated chunks": (
        "GET",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", b""],
    ),
    "conflicting lengths": (
        "GET",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx"],
    ),
    "a coding other than chunked": (
        "GET",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
    ),
    "status below 100": ("GET", [b"HTTP/1.1 099 Odd\r\nContent-Length: 1\r\n\r\nx"]),
    "not HTTP": ("GET", [b"SSH-2.0-OpenSSH\r\n\r\n"]),
    "closed mid-head": ("GET", [b"HTTP/1.1 200 OK\r\nContent-Le", b""]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_both_libraries_read_the_same_bytes_the_same_way(case: str) -> None:
    method, pieces = CASES[case]
    results = [outcome(dialect, method, pieces) for dialect in DIALECTS]
    assert results[0] == results[1]


def test_trailers_do_not_change_the_response_headers() -> None:
    method, pieces = CASES["chunked with trailers"]
    for dialect in DIALECTS:
        _, headers, body, complete, reuse = outcome(dialect, method, pieces)  # type: ignore[misc]
        assert headers == [(b"Transfer-Encoding", b"chunked")]
        assert (body, complete, reuse) == (b"hi", True, True)


def test_a_request_cut_short_by_an_early_answer_ends_the_connection() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/up", content=b"x" * 100)
    for dialect in DIALECTS:
        codec = dialect.codec()
        codec.start(dialect.prepare(request))
        codec.body(b"x" * 40)  # then the write failed; the server had already answered
        codec.feed(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
        assert codec.complete
        assert not codec.reuse()


@pytest.mark.parametrize("sent", [b"short", b"much too long"], ids=["shorter", "longer"])
def test_a_body_not_matching_its_length_is_refused_by_both(sent: bytes) -> None:
    request = httpx.Request("POST", "http://127.0.0.1/up", headers={"Content-Length": "8"})
    for dialect in DIALECTS:
        codec = dialect.codec()
        codec.start(dialect.prepare(request))
        with pytest.raises(LocalProtocolFailure):  # noqa: PT012 (either step may refuse)
            codec.body(sent)
            codec.end()


@pytest.mark.parametrize("method", ["GÉT", "GET X", "G\x00T"])
def test_a_method_that_is_not_a_token_is_refused_by_both(method: str) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    request.method = method
    for dialect in DIALECTS:
        with pytest.raises(InvalidRequest):
            dialect.prepare(request)
