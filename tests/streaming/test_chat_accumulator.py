"""The sans-I/O half of chat streaming: event decoding and the accumulator."""

from __future__ import annotations

import msgspec
import pytest

from aerostack_async.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    StreamProtocolError,
)
from aerostack_async.models.ai import ChatCompletionChunk, ChunkChoice, Usage
from aerostack_async.streaming.chat import ChatAccumulator, decode_chat_event
from aerostack_async.streaming.sse import ServerSentEvent


def chunk(content: str = "", finish: str | None = None, **fields: object) -> ChatCompletionChunk:
    delta = {"content": content} if content else {}
    frame = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **fields,
    }
    return msgspec.json.decode(msgspec.json.encode(frame), type=ChatCompletionChunk)


def event(data: object) -> ServerSentEvent:
    return ServerSentEvent(data if isinstance(data, str) else msgspec.json.encode(data).decode())


def test_done_marker_decodes_to_none() -> None:
    assert decode_chat_event(event("[DONE]")) is None


def test_chunk_event_decodes_to_typed_chunk() -> None:
    decoded = decode_chat_event(event(msgspec.json.encode(chunk("Hi")).decode()))
    assert decoded is not None
    assert decoded.choices[0].delta.content == "Hi"


def test_content_that_is_the_word_error_is_still_a_chunk() -> None:
    decoded = decode_chat_event(event(msgspec.json.encode(chunk("error")).decode()))
    assert decoded is not None
    assert decoded.choices[0].delta.content == "error"


@pytest.mark.parametrize(
    ("code", "cls", "status"),
    [
        ("INTERNAL_ERROR", InternalServerError, 500),
        ("RATE_LIMIT_EXCEEDED", RateLimitError, 429),
        ("AUTH_INVALID_KEY", AuthenticationError, 401),
        ("VALIDATION_ERROR", BadRequestError, 400),
    ],
)
def test_error_frame_raises_the_class_its_code_stands_for(
    code: str, cls: type[APIStatusError], status: int
) -> None:
    with pytest.raises(cls) as caught:
        decode_chat_event(event({"error": {"code": code, "message": "boom"}}))
    assert (caught.value.code, caught.value.message, caught.value.status_code) == (
        code,
        "boom",
        status,
    )


def test_error_frame_with_unknown_code_is_a_plain_api_status_error() -> None:
    with pytest.raises(APIStatusError) as caught:
        decode_chat_event(event({"error": {"code": "MODEL_OVERLOADED", "message": "busy"}}))
    assert type(caught.value) is APIStatusError
    assert caught.value.code == "MODEL_OVERLOADED"


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '{"choices": "nope"}'])
def test_data_that_is_not_a_chunk_is_a_protocol_error(data: str) -> None:
    with pytest.raises(StreamProtocolError):
        decode_chat_event(event(data))


def test_accumulator_joins_content_in_order() -> None:
    acc = ChatAccumulator()
    deltas = [acc.feed(c) for c in (chunk("Hel"), chunk("lo"), chunk(", world"))]
    assert deltas == ["Hel", "lo", ", world"]
    assert acc.text == "Hello, world"


def test_accumulator_keeps_id_model_and_created_from_the_first_chunk() -> None:
    acc = ChatAccumulator()
    acc.feed(chunk("a"))
    assert (acc.id, acc.model, acc.created) == ("chatcmpl-1", "m", 1700000000)


def test_accumulator_records_finish_reason() -> None:
    acc = ChatAccumulator()
    acc.feed(chunk("a"))
    assert acc.finish_reason is None
    assert acc.feed(chunk(finish="length")) == ""
    assert acc.finish_reason == "length"


def test_accumulator_takes_usage_from_the_usage_frame() -> None:
    acc = ChatAccumulator()
    acc.feed(chunk("a", finish="stop"))
    usage_frame = ChatCompletionChunk(
        id="chatcmpl-1",
        choices=[],
        usage=Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4),
    )
    assert acc.feed(usage_frame) == ""
    assert acc.usage == Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4)


def test_accumulator_ignores_other_choice_indexes() -> None:
    acc = ChatAccumulator()
    other = chunk("x")
    other = ChatCompletionChunk(
        choices=[ChunkChoice(index=1, delta=other.choices[0].delta, finish_reason="stop")]
    )
    acc.feed(other)
    assert (acc.text, acc.finish_reason) == ("", None)


def test_final_message_has_the_shape_of_a_non_streamed_completion() -> None:
    acc = ChatAccumulator()
    for c in (chunk("Hi"), chunk(" there", finish="stop")):
        acc.feed(c)
    message = acc.message()
    assert message.text == "Hi there"
    assert message.response == "Hi there"
    assert message.choices[0].message.role == "assistant"
    assert message.choices[0].finish_reason == "stop"
    assert message.id == "chatcmpl-1"


def test_text_can_be_read_while_accumulating() -> None:
    acc = ChatAccumulator()
    acc.feed(chunk("a"))
    assert acc.text == "a"
    acc.feed(chunk("b"))
    assert acc.text == "ab"
