"""Conformance of the ``/ai/search/*`` routes on the emulator's local hashed-term embedding."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aerostack_async.testing import Emulator

pytestmark = pytest.mark.anyio

DOCS = {
    "cache": "How to cache database query results with a TTL",
    "upload": "Uploading large files to object storage in chunks",
    "auth": "Signing users in with passwords and JSON web tokens",
}


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as http:
        yield http


@pytest.fixture
def kind() -> str:
    """A document type no other test uses, so counts and queries stay independent."""
    return "type-" + secrets.token_hex(6)


async def ingest(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/ai/search/ingest", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def ingest_docs(client: httpx.AsyncClient, kind: str) -> None:
    for name, content in DOCS.items():
        await ingest(client, id=f"{kind}-{name}", content=content, type=kind, metadata={"n": name})


async def query(client: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    response = await client.post("/ai/search/query", json=body)
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


async def test_ingest_returns_the_given_id(client: httpx.AsyncClient, kind: str) -> None:
    assert await ingest(client, id=kind + "-x", content="hello", type=kind) == {
        "success": True,
        "id": kind + "-x",
    }


async def test_ingest_without_id_generates_one(client: httpx.AsyncClient, kind: str) -> None:
    first = await ingest(client, content="hello", type=kind)
    second = await ingest(client, content="hello", type=kind)
    assert first["id"]
    assert first["id"] != second["id"]


async def test_query_ranks_the_most_similar_document_first(
    client: httpx.AsyncClient, kind: str
) -> None:
    await ingest_docs(client, kind)
    results = await query(client, text="cache the query results", types=[kind])
    assert results[0]["id"] == f"{kind}-cache"
    scores = [result["score"] for result in results]
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[0] <= 1


async def test_query_results_carry_content_type_and_metadata(
    client: httpx.AsyncClient, kind: str
) -> None:
    await ingest_docs(client, kind)
    [top] = await query(client, text="object storage uploads", types=[kind], topK=1)
    assert top == {
        "id": f"{kind}-upload",
        "content": DOCS["upload"],
        "type": kind,
        "metadata": {"n": "upload"},
        "score": top["score"],
    }


async def test_identical_text_scores_one(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    [top] = await query(client, text=DOCS["auth"], types=[kind], topK=1)
    assert top["score"] == pytest.approx(1.0)


async def test_top_k_limits_the_results(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    assert len(await query(client, text="files", types=[kind], topK=2)) == 2


async def test_types_restrict_the_results(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    other = kind + "-other"
    await ingest(client, id=other + "-1", content=DOCS["cache"], type=other)
    results = await query(client, text=DOCS["cache"], types=[other], topK=10)
    assert [result["id"] for result in results] == [other + "-1"]


async def test_filter_matches_metadata_exactly(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    results = await query(client, text="anything", types=[kind], filter={"n": "auth"})
    assert [result["id"] for result in results] == [f"{kind}-auth"]


async def test_filter_does_not_confuse_true_with_one(client: httpx.AsyncClient, kind: str) -> None:
    await ingest(client, id=kind + "-flag", content="flagged", type=kind, metadata={"on": 1})
    assert await query(client, text="flagged", types=[kind], filter={"on": True}) == []


async def test_same_query_gives_the_same_scores(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    assert await query(client, text="tokens", types=[kind]) == await query(
        client, text="tokens", types=[kind]
    )


async def test_get_returns_the_document(client: httpx.AsyncClient, kind: str) -> None:
    await ingest(client, id=kind + "-g", content="stored text", type=kind, metadata={"a": [1]})
    response = (await client.post("/ai/search/get", json={"id": kind + "-g"})).json()
    assert response == {
        "result": {
            "id": kind + "-g",
            "content": "stored text",
            "type": kind,
            "metadata": {"a": [1]},
        },
        "exists": True,
    }


async def test_get_of_missing_id_is_null_and_not_exists(client: httpx.AsyncClient) -> None:
    response = (await client.post("/ai/search/get", json={"id": "no-such-doc"})).json()
    assert response == {"result": None, "exists": False}


async def test_update_changes_content_and_ranking(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    response = await client.post(
        "/ai/search/update", json={"id": f"{kind}-auth", "content": "penguins in antarctica"}
    )
    assert response.json()["success"] is True
    [top] = await query(client, text="antarctica penguins", types=[kind], topK=1)
    assert top["id"] == f"{kind}-auth"
    assert top["metadata"] == {"n": "auth"}  # kept: the update did not name it


async def test_update_of_missing_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/ai/search/update", json={"id": "no-such-doc", "content": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


async def test_delete_removes_one_document(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    assert (await client.post("/ai/search/delete", json={"id": f"{kind}-cache"})).json()[
        "success"
    ] is True
    assert (await client.post("/ai/search/count", json={"type": kind})).json() == {"count": 2}


async def test_delete_by_type_removes_every_document_of_it(
    client: httpx.AsyncClient, kind: str
) -> None:
    await ingest_docs(client, kind)
    response = (await client.post("/ai/search/deleteByType", json={"type": kind})).json()
    assert response["success"] is True
    assert (await client.post("/ai/search/count", json={"type": kind})).json() == {"count": 0}


async def test_count_without_type_counts_everything(client: httpx.AsyncClient, kind: str) -> None:
    before = (await client.post("/ai/search/count", json={})).json()["count"]
    await ingest_docs(client, kind)
    assert (await client.post("/ai/search/count", json={})).json()["count"] == before + 3


async def test_list_types_counts_documents_per_type(client: httpx.AsyncClient, kind: str) -> None:
    await ingest_docs(client, kind)
    await ingest(client, content="one more", type=kind + "-b")
    types = (await client.get("/ai/search/listTypes")).json()["types"]
    assert {"type": kind, "count": 3} in types
    assert {"type": kind + "-b", "count": 1} in types


async def test_configure_accepts_the_two_models(client: httpx.AsyncClient, kind: str) -> None:
    await ingest(client, id=kind + "-de", content="Rezepte für Apfelkuchen", type=kind)
    for model in ("multilingual", "english"):
        response = await client.post("/ai/search/configure", json={"embeddingModel": model})
        assert response.json()["success"] is True
        [top] = await query(client, text="Rezepte", types=[kind], topK=1)
        assert top["score"] > 0


async def test_multilingual_model_matches_parts_of_words(
    client: httpx.AsyncClient, kind: str
) -> None:
    await ingest(client, id=kind + "-de", content="Apfelkuchen", type=kind)
    await client.post("/ai/search/configure", json={"embeddingModel": "multilingual"})
    try:
        [top] = await query(client, text="Apfel", types=[kind], topK=1)
    finally:
        await client.post("/ai/search/configure", json={"embeddingModel": "english"})
    assert top["score"] > 0


async def test_configure_with_unknown_model_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/ai/search/configure", json={"embeddingModel": "klingon"})
    assert response.status_code == 400
    assert "embeddingModel" in response.json()["details"]["fieldErrors"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/ai/search/ingest", {"type": "t"}, "content"),
        ("/ai/search/ingest", {"content": "c"}, "type"),
        ("/ai/search/ingest", {"content": "c", "type": "t", "metadata": []}, "metadata"),
        ("/ai/search/query", {}, "text"),
        ("/ai/search/query", {"text": "x", "topK": 0}, "topK"),
        ("/ai/search/query", {"text": "x", "types": [1]}, "types"),
        ("/ai/search/query", {"text": "x", "filter": "a"}, "filter"),
        ("/ai/search/delete", {}, "id"),
        ("/ai/search/update", {"id": "x"}, "content"),
    ],
)
async def test_invalid_body_is_400_with_field_error(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 400
    assert field in response.json()["details"]["fieldErrors"]


async def test_public_key_is_forbidden(client: httpx.AsyncClient, emulator: Emulator) -> None:
    assert emulator.public_key is not None
    response = await client.get(
        "/ai/search/listTypes", headers={"X-Aerostack-Key": emulator.public_key}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
