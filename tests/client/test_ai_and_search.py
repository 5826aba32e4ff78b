"""client.ai (non-streaming) and client.search against the emulator."""

from __future__ import annotations

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import InvalidRequestError
from aerostack_async.models import ChatMessage

pytestmark = pytest.mark.anyio


async def test_chat_returns_a_completion_with_usage(client: AsyncAerostack) -> None:
    completion = await client.ai.chat(
        [ChatMessage(role="system", content="Be brief."), {"role": "user", "content": "Hi"}],
        max_tokens=20,
    )
    assert completion.object == "chat.completion"
    assert completion.text
    assert completion.text == completion.response
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage is not None
    assert completion.usage.completion_tokens <= 20


async def test_chat_accepts_a_plain_string(client: AsyncAerostack) -> None:
    assert (await client.ai.chat("hello")).text


async def test_chat_refuses_an_unknown_role(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError, match="role"):
        await client.ai.chat([{"role": "robot", "content": "hi"}])


async def test_chat_refuses_no_messages(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.ai.chat([])


async def test_chat_refuses_a_temperature_out_of_range(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.ai.chat("hi", temperature=3)


async def test_ingest_then_query_finds_the_document(client: AsyncAerostack, unique: str) -> None:
    cat = await client.search.ingest("the cat sat on the mat", unique, metadata={"n": 1})
    await client.search.ingest("stock prices fell sharply", unique)
    found = await client.search.query("cat on a mat", types=[unique], top_k=1)
    assert [hit.id for hit in found.results] == [cat.id]
    assert found.results[0].metadata == {"n": 1}


async def test_query_filter_matches_metadata(client: AsyncAerostack, unique: str) -> None:
    await client.search.ingest("red apple", unique, metadata={"colour": "red"})
    green = await client.search.ingest("green apple", unique, metadata={"colour": "green"})
    found = await client.search.query("apple", types=[unique], filter={"colour": "green"})
    assert [hit.id for hit in found.results] == [green.id]


async def test_get_returns_an_ingested_document(client: AsyncAerostack, unique: str) -> None:
    doc = await client.search.ingest("hello", unique, id=f"{unique}-1")
    got = await client.search.get(doc.id)
    assert got.exists
    assert got.result is not None
    assert got.result.content == "hello"


async def test_update_replaces_the_content(client: AsyncAerostack, unique: str) -> None:
    doc = await client.search.ingest("old text", unique)
    await client.search.update(doc.id, "new text", metadata={"v": 2})
    got = await client.search.get(doc.id)
    assert got.result is not None
    assert (got.result.content, got.result.metadata) == (
        "new text",
        {"v": 2},
    )


async def test_delete_removes_the_document(client: AsyncAerostack, unique: str) -> None:
    doc = await client.search.ingest("bye", unique)
    await client.search.delete(doc.id)
    assert not (await client.search.get(doc.id)).exists


async def test_count_and_list_types_see_ingested_documents(
    client: AsyncAerostack, unique: str
) -> None:
    for text in ("one", "two", "three"):
        await client.search.ingest(text, unique)
    assert (await client.search.count(unique)).count == 3
    types = {entry.type: entry.count for entry in (await client.search.list_types()).types}
    assert types[unique] == 3


async def test_delete_by_type_removes_every_document_of_the_type(
    client: AsyncAerostack, unique: str
) -> None:
    for text in ("one", "two"):
        await client.search.ingest(text, unique)
    assert (await client.search.delete_by_type(unique)).deleted == 2
    assert (await client.search.count(unique)).count == 0


async def test_configure_sets_the_embedding_model(client: AsyncAerostack) -> None:
    result = await client.search.configure("english")
    assert result.success
    assert result.embedding_model == "english"


async def test_configure_refuses_an_unknown_model(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.search.configure("klingon")
