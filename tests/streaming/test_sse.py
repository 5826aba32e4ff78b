"""The SSE decoder: the whole format, any chunking, and agreement with httpx-sse."""

from __future__ import annotations

import itertools

import pytest
from httpx_sse._decoders import SSEDecoder as OracleDecoder
from httpx_sse._decoders import SSELineDecoder as OracleLineDecoder
from hypothesis import given, settings
from hypothesis import strategies as st

from aerostack_async.streaming.sse import ServerSentEvent, SSEDecoder

E = ServerSentEvent


def decode_whole(stream: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return decoder.feed(stream) + decoder.flush()


def decode_chunked(stream: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        events += decoder.feed(stream[start:cut])
        start = cut
    return events + decoder.flush()


CASES = [
    pytest.param(b"data: hello\n\n", [E("hello")], id="one-data-line"),
    pytest.param(b"data: a\ndata: b\ndata: c\n\n", [E("a\nb\nc")], id="multi-line-data-joined"),
    pytest.param(b"data: a\n\ndata: b\n\n", [E("a"), E("b")], id="two-events"),
    pytest.param(b": a comment\ndata: x\n\n", [E("x")], id="comment-ignored"),
    pytest.param(b": only a comment\n\n", [], id="comment-only-block-not-dispatched"),
    pytest.param(b"data: x\r\n\r\n", [E("x")], id="crlf-line-endings"),
    pytest.param(b"data: x\r\rdata: y\r\r", [E("x"), E("y")], id="cr-line-endings"),
    pytest.param(b"data: a\rdata: b\r\ndata: c\n\n", [E("a\nb\nc")], id="mixed-line-endings"),
    pytest.param(b"event: add\ndata: 1\n\n", [E("1", "add")], id="event-type"),
    pytest.param(b"event:\ndata: 1\n\n", [E("1")], id="empty-event-type-is-message"),
    pytest.param(b"event: a\n\ndata: 1\n\n", [E("1")], id="event-type-reset-by-empty-block"),
    pytest.param(b"id: 7\ndata: a\n\ndata: b\n\n", [E("a", id="7"), E("b", id="7")], id="id-kept"),
    pytest.param(b"id: 7\ndata: a\n\nid\ndata: b\n\n", [E("a", id="7"), E("b")], id="id-reset"),
    pytest.param(
        b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n",
        [E("a", id="7"), E("b", id="7")],
        id="id-with-nul-ignored",
    ),
    pytest.param(b"id: 3\n\ndata: a\n\n", [E("a", id="3")], id="id-alone-sets-last-id"),
    pytest.param(b"retry: 1500\ndata: a\n\n", [E("a", retry=1500)], id="retry"),
    pytest.param(b"retry: 15x\ndata: a\n\n", [E("a")], id="retry-not-digits-ignored"),
    pytest.param(b"retry: +15\ndata: a\n\n", [E("a")], id="retry-with-sign-ignored"),
    pytest.param(b"retry: 15\n\n", [], id="retry-alone-not-dispatched"),
    pytest.param(b"data\n\n", [E("")], id="field-without-colon-empty-value"),
    pytest.param(b"data\ndata\n\n", [E("\n")], id="two-empty-data-lines"),
    pytest.param(b"data:\n\n", [E("")], id="empty-data-line-is-dispatched"),
    pytest.param(b"event: x\n\n", [], id="no-data-not-dispatched"),
    pytest.param(b"data:no-space\n\n", [E("no-space")], id="no-space-after-colon"),
    pytest.param(b"data:  two\n\n", [E(" two")], id="only-one-space-stripped"),
    pytest.param(b"data: a:b: c\n\n", [E("a:b: c")], id="colons-in-value"),
    pytest.param(b"data : x\n\n", [], id="field-name-with-space-is-unknown"),
    pytest.param(b"foo: bar\ndata: x\n\n", [E("x")], id="unknown-field-ignored"),
    pytest.param(b"\xef\xbb\xbfdata: x\n\n", [E("x")], id="bom-at-start-stripped"),
    pytest.param(b"data: \xef\xbb\xbfx\n\n", [E("\ufeffx")], id="bom-inside-kept"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n", [], id="only-one-bom-stripped"),
    pytest.param(b"data: x\n", [], id="unterminated-event-discarded"),
    pytest.param(b"data: x", [], id="unterminated-line-discarded"),
    pytest.param(b"\n\n\ndata: x\n\n\n\n", [E("x")], id="extra-blank-lines"),
    pytest.param("data: héllo ✓\n\n".encode(), [E("héllo ✓")], id="utf8"),
    pytest.param(b"data: \xff\n\n", [E("\ufffd")], id="invalid-utf8-replaced"),
    pytest.param(b"data: [DONE]\n\n", [E("[DONE]")], id="done-marker-is-plain-data"),
]


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_decodes_format_case(stream: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode_whole(stream) == expected


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_decodes_format_case_byte_by_byte(stream: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode_chunked(stream, list(range(1, len(stream)))) == expected


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [E("a\nb")]
    assert decoder.feed(b"\n") == []


def test_event_ending_in_cr_dispatches_without_waiting_for_next_chunk() -> None:
    assert SSEDecoder().feed(b"data: a\r\r") == [E("a")]


def test_bom_split_across_chunks_is_stripped() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbfdata: x\n\n") == [E("x")]


def test_partial_bom_prefix_is_kept_as_data() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"data: x\n\n") == []  # "\xefdata" is an unknown field name


def test_utf8_character_split_across_chunks() -> None:
    raw = "data: ✓\n\n".encode()
    decoder = SSEDecoder()
    assert decoder.feed(raw[:7]) == []
    assert decoder.feed(raw[7:]) == [E("✓")]


def test_many_frames_in_one_read_with_an_unfinished_one_after() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n\ndata: c") == [E("a"), E("b")]
    assert decoder.feed(b"\n\n") == [E("c")]


def test_many_frames_in_one_read_with_a_multi_line_tail() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\ndata: c") == [E("a")]
    assert decoder.feed(b"\n\n") == [E("b\nc")]


def test_many_frames_in_one_read_mixing_fields_take_the_general_path() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\nid: 4\ndata: b\n\ndata:c\n\n") == [
        E("a"),
        E("b", id="4"),
        E("c", id="4"),
    ]


def test_empty_chunks_change_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n\n") == [E("a")]


def test_retry_and_last_event_id_are_kept_on_the_decoder() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 250\nid: 9\n\n")
    assert (decoder.retry, decoder.last_event_id) == (250, "9")


def test_flush_discards_partial_event_and_allows_reuse() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\ndata: cut")
    assert decoder.flush() == []
    assert decoder.feed(b"data: b\n\n") == [E("b", id="1")]


# --- property tests --------------------------------------------------------------------------

_value = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00"),
    max_size=12,
)
_line_end = st.sampled_from(["\n", "\r", "\r\n"])
_other_line = st.one_of(
    st.builds(lambda v: ":" + v, _value),
    st.builds(lambda v: "event:" + v, _value),
    st.builds(lambda v: "event: " + v, _value),
    st.builds(lambda v: "id: " + v, _value),
    st.builds(lambda v: "retry: " + str(v), st.integers(0, 10**6)),
    st.builds(lambda v: "x-unknown: " + v, _value),
    st.sampled_from(["event", "id", "data", "retry"]),
)
_data_line = st.one_of(st.builds(lambda v: "data: " + v, _value), st.just("data:"))


@st.composite
def _blocks(draw: st.DrawFn) -> list[str]:
    """A block with at least one data line (httpx-sse dispatches data-less blocks, the spec not)."""
    lines = draw(st.lists(st.one_of(_other_line, _data_line), max_size=5))
    lines.insert(draw(st.integers(0, len(lines))), draw(_data_line))
    return lines


@st.composite
def _streams(draw: st.DrawFn) -> str:
    out = []
    for block in draw(st.lists(_blocks(), max_size=6)):
        for line in block:
            out.append(line + draw(_line_end))
        out.append(draw(_line_end))
    return "".join(out)


def _oracle(text: str, pieces: list[str]) -> list[tuple[str, str, str, int | None]]:
    lines_decoder, decoder = OracleLineDecoder(), OracleDecoder()
    events = []
    lines = [line for piece in pieces for line in lines_decoder.decode(piece)]
    for line in lines + lines_decoder.flush():
        event = decoder.decode(line)
        if event is not None:
            events.append((event.event, event.data, event.id, event.retry))
    return events


@settings(max_examples=300, deadline=None)
@given(_streams(), st.lists(st.integers(0, 400), max_size=20))
def test_any_chunking_gives_same_events_as_whole(text: str, cuts: list[int]) -> None:
    raw = text.encode()
    assert decode_chunked(raw, [c for c in cuts if c <= len(raw)]) == decode_whole(raw)


@settings(max_examples=300, deadline=None)
@given(_streams(), st.lists(st.integers(0, 400), max_size=20))
def test_agrees_with_httpx_sse(text: str, cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(text)), len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    ours = [(e.event, e.data, e.id, e.retry) for e in decode_whole(text.encode())]
    assert ours == _oracle(text, pieces)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=10))
def test_arbitrary_bytes_decode_the_same_in_any_chunking(raw: bytes, cuts: list[int]) -> None:
    assert decode_chunked(raw, [c for c in cuts if c <= len(raw)]) == decode_whole(raw)
