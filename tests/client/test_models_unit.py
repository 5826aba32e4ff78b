"""Wire types (pure unit tests): exact casing, omitted defaults, dicts accepted."""

from __future__ import annotations

import msgspec
import pytest

from aerostack_async import models
from aerostack_async.errors import InvalidRequestError
from aerostack_async.models._base import decoder_for, encode
from aerostack_async.resources._base import convert


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (models.JobIdRequest(job_id="j"), {"jobId": "j"}),
        (models.InvokeRequest(service_name="s", data={}), {"serviceName": "s", "data": {}}),
        (models.CopyRequest(source_key="a", dest_key="b"), {"sourceKey": "a", "destKey": "b"}),
        (
            models.CacheIncrementRequest(key="k", initial_value=5),
            {"key": "k", "initialValue": 5},
        ),
        (models.SearchQueryRequest(text="t", top_k=3), {"text": "t", "topK": 3}),
        (models.ConfigureRequest(embedding_model="english"), {"embeddingModel": "english"}),
        (
            models.ChatRequest(
                messages=[models.ChatMessage(content="hi")],
                max_tokens=5,
                top_p=0.5,
                stream_options=models.StreamOptions(include_usage=True),
            ),
            {
                "messages": [{"role": "user", "content": "hi"}],
                "stream_options": {"include_usage": True},
                "max_tokens": 5,
                "top_p": 0.5,
            },
        ),
    ],
)
def test_requests_use_the_exact_wire_names(value: msgspec.Struct, wire: dict[str, object]) -> None:
    assert msgspec.json.decode(encode(value)) == wire


def test_unset_optional_fields_are_left_off() -> None:
    assert encode(models.CacheSetRequest(key="k", value=1)) == b'{"key":"k","value":1}'


def test_a_required_null_value_is_still_sent() -> None:
    assert encode(models.CacheSetRequest(key="k", value=None)) == b'{"key":"k","value":null}'


def test_responses_read_camel_and_snake_names() -> None:
    page = decoder_for(models.JobsPage).decode(
        b'{"jobs": [{"id": "1", "type": "t", "status": "queued", "projectId": "p",'
        b' "createdAt": "2026-01-02T03:04:05.678Z"}], "list_complete": false, "cursor": "c"}'
    )
    job = page.jobs[0]
    assert (job.project_id, job.created_at.year if job.created_at else None) == ("p", 2026)
    assert (page.list_complete, page.cursor) == (False, "c")


def test_a_wrong_type_reports_the_json_path() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.keys\[0\]\.key"):
        decoder_for(models.CacheListPage).decode(b'{"keys": [{"key": 1}], "list_complete": true}')


def test_a_dict_converts_to_the_struct() -> None:
    assert convert("q", {"sql": "SELECT 1"}, models.Query) == models.Query(sql="SELECT 1")


def test_a_dict_of_the_wrong_shape_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="q is not a valid Query"):
        convert("q", {"sql": 1}, models.Query)


def test_chat_completion_text_prefers_the_first_choice() -> None:
    completion = decoder_for(models.ChatCompletion).decode(
        b'{"response": "old", "choices": [{"message": {"role": "assistant", "content": "new"}}]}'
    )
    assert completion.text == "new"


def test_chunks_decode_deltas_and_usage() -> None:
    chunk = decoder_for(models.ChatCompletionChunk).decode(
        b'{"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}'
    )
    usage = decoder_for(models.ChatCompletionChunk).decode(
        b'{"id": "c", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2,'
        b' "total_tokens": 3}}'
    )
    assert chunk.choices[0].delta.content == "Hi"
    assert usage.usage == models.Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
