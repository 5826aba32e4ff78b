"""Emulator routes: the managed search index (``/ai/search/*``), on the local embedding.

See ``_search_index`` for what the embedding is (feature hashing, not a neural model).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from .._app import Call, Operation, RouteModule
from .._errors import not_found
from .._search_index import MODELS, SCHEMA, configure, document, query, upsert

MAX_ID_BYTES = 256
MAX_TYPE_BYTES = 256
MAX_CONTENT_BYTES = 1 << 20
MAX_TOP_K = 100
MAX_TYPES = 100


async def ingest(call: Call) -> Any:
    """``/ai/search/ingest``: add a document (or replace the one with the same ``id``)."""
    body = call.body
    content = body.string("content", required=True, min_length=1, max_bytes=MAX_CONTENT_BYTES)
    doc_type = body.string("type", required=True, min_length=1, max_bytes=MAX_TYPE_BYTES)
    doc_id = body.string("id", min_length=1, max_bytes=MAX_ID_BYTES)
    metadata = body.object("metadata", default={})
    body.check()
    doc_id = doc_id or str(uuid.uuid4())
    now = call.state.clock()
    await call.state.platform.transaction(
        lambda conn: upsert(conn, doc_id, doc_type, content, metadata, now)
    )
    return {"success": True, "id": doc_id}


async def search(call: Call) -> Any:
    """``/ai/search/query``: the ``topK`` documents most similar to ``text``."""
    body = call.body
    text = body.string("text", required=True, min_length=1, max_bytes=MAX_CONTENT_BYTES)
    top_k = body.integer("topK", default=5, minimum=1, maximum=MAX_TOP_K)
    types = body.array("types", max_items=MAX_TYPES)
    if isinstance(types, list) and not all(isinstance(item, str) for item in types):
        body.error("types", "Expected an array of strings")
    wanted = body.object("filter")
    body.check()
    results = await call.state.platform.run(lambda conn: query(conn, text, top_k, types, wanted))
    return {"results": results}


async def get(call: Call) -> Any:
    """``/ai/search/get``: one document by id."""
    doc_id = call.body.string("id", required=True, max_bytes=MAX_ID_BYTES)
    call.body.check()

    def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
        row = conn.execute("SELECT * FROM search_documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else document(row)

    result = await call.state.platform.run(read)
    return {"result": result, "exists": result is not None}


async def update(call: Call) -> Any:
    """``/ai/search/update``: new content (and optionally type, metadata) for an existing id."""
    body = call.body
    doc_id = body.string("id", required=True, max_bytes=MAX_ID_BYTES)
    content = body.string("content", required=True, min_length=1, max_bytes=MAX_CONTENT_BYTES)
    doc_type = body.string("type", min_length=1, max_bytes=MAX_TYPE_BYTES)
    metadata = body.object("metadata")
    body.check()
    now = call.state.clock()

    def change(conn: sqlite3.Connection) -> bool:
        row = conn.execute("SELECT * FROM search_documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return False
        old = document(row)
        new_metadata = metadata if metadata is not None else old["metadata"]
        upsert(conn, doc_id, doc_type or old["type"], content, new_metadata, now)
        return True

    if not await call.state.platform.transaction(change):
        raise not_found(f"No document with id {doc_id!r}")
    return {"success": True, "id": doc_id}


async def delete(call: Call) -> Any:
    """``/ai/search/delete``: success whether or not the id existed; ``deleted`` says which."""
    doc_id = call.body.string("id", required=True, max_bytes=MAX_ID_BYTES)
    call.body.check()
    deleted = await call.state.platform.run(
        lambda conn: conn.execute("DELETE FROM search_documents WHERE id = ?", (doc_id,)).rowcount
    )
    return {"success": True, "deleted": deleted}


async def delete_by_type(call: Call) -> Any:
    """``/ai/search/deleteByType``: remove every document of ``type``."""
    doc_type = call.body.string("type", required=True, min_length=1, max_bytes=MAX_TYPE_BYTES)
    call.body.check()
    deleted = await call.state.platform.run(
        lambda conn: (
            conn.execute("DELETE FROM search_documents WHERE type = ?", (doc_type,)).rowcount
        )
    )
    return {"success": True, "deleted": deleted}


async def list_types(call: Call) -> Any:
    """``GET /ai/search/listTypes``: each type with its document count, by name."""
    rows = await call.state.platform.run(
        lambda conn: conn.execute(
            "SELECT type, count(*) FROM search_documents GROUP BY type ORDER BY type"
        ).fetchall()
    )
    return {"types": [{"type": row[0], "count": row[1]} for row in rows]}


async def count(call: Call) -> Any:
    """``/ai/search/count``: documents in the index, or of one ``type``."""
    doc_type = call.body.string("type", max_bytes=MAX_TYPE_BYTES)
    call.body.check()

    def read(conn: sqlite3.Connection) -> int:
        if doc_type is None:
            row = conn.execute("SELECT count(*) FROM search_documents").fetchone()
        else:
            row = conn.execute(
                "SELECT count(*) FROM search_documents WHERE type = ?", (doc_type,)
            ).fetchone()
        return int(row[0])

    return {"count": await call.state.platform.run(read)}


async def set_model(call: Call) -> Any:
    """``/ai/search/configure``: pick the embedding model; every document is re-embedded."""
    model = call.body.string("embeddingModel", required=True, choices=MODELS)
    call.body.check()
    await call.state.platform.transaction(lambda conn: configure(conn, model))
    return {"success": True, "embeddingModel": model}


MODULE = RouteModule(
    operations=[
        Operation("/ai/search/ingest", ingest, secret_only=True),
        Operation("/ai/search/query", search, secret_only=True),
        Operation("/ai/search/get", get, secret_only=True),
        Operation("/ai/search/update", update, secret_only=True),
        Operation("/ai/search/delete", delete, secret_only=True),
        Operation("/ai/search/deleteByType", delete_by_type, secret_only=True),
        Operation("/ai/search/listTypes", list_types, method="GET", secret_only=True, body="none"),
        Operation("/ai/search/count", count, secret_only=True),
        Operation("/ai/search/configure", set_model, secret_only=True),
    ],
    schema=SCHEMA,
)
