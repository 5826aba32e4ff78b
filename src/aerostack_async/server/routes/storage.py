"""Emulator routes: object storage (``/storage/*``), plus the signed download URL.

Uploads stream to a temp file and are renamed into place only when complete (see
``_storage_upload`` and ``_storage_store``). URLs handed out by upload, copy, move and getUrl
point at ``GET /v1/storage/object/{key}?[expires=…&]sig=…``, which needs no API key: the HMAC
signature is the credential, as with a CDN or a presigned URL.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any, BinaryIO

import anyio.to_thread
from starlette.responses import Response, StreamingResponse

from .._app import Call, Operation, RouteModule, json_response, replay
from .._errors import ApiError, not_found, validation_error
from .._idempotency import StoredResponse, hash_body
from .._state import ServerState
from .._storage_keys import MAX_KEY_BYTES, UrlSigner, key_problem
from .._storage_store import (
    DEFAULT_CONTENT_TYPE,
    SCHEMA,
    ObjectInfo,
    ObjectStore,
    discard,
    guess_content_type,
    rfc3339,
    valid_content_type,
)
from .._storage_upload import FORM_OVERHEAD_BYTES, UploadSink, multipart_boundary, receive

READ_CHUNK_BYTES = 256 * 1024
DEFAULT_URL_SECONDS = 3600
MAX_URL_SECONDS = 7 * 24 * 3600


class _Storage:
    """One project's object store and URL signer."""

    def __init__(self, state: ServerState) -> None:
        self.objects = ObjectStore(state.platform, state.storage_dir)
        self.signer = UrlSigner(state.jwt_secret, state.config.base_url, project=state.project)


def _storage(state: ServerState) -> _Storage:
    storage = state.extras.get("storage")
    if storage is None:
        storage = state.extras["storage"] = _Storage(state)
    return storage


def _key_field(call: Call, name: str = "key") -> str:
    key = call.body.string(name, required=True)
    if isinstance(key, str):
        problem = key_problem(key)
        if problem is not None:
            call.body.error(name, problem)
    return key  # type: ignore[no-any-return]


# -- upload --


async def upload(call: Call) -> Any:
    """``POST /storage/upload`` (multipart): stream the ``file`` part to disk, then commit it."""
    boundary = multipart_boundary(call.request)
    storage = _storage(call.state)
    limit = call.state.config.max_upload_bytes
    temp = storage.objects.temp_path()
    sink = UploadSink(boundary, temp, limit)
    try:
        await receive(call.request, sink, limit + FORM_OVERHEAD_BYTES)
        key, content_type = _upload_fields(sink)
        etag = sink.md5.hexdigest()
        if call.idempotency_scope is None:
            return await _commit(call, storage, sink, key, content_type, etag)
        # Fingerprint what was uploaded, not the raw body: a retry has a new multipart boundary.
        fingerprint = hash_body(
            "\0".join(
                (key, sink.fields.get("contentType", ""), content_type, etag, str(sink.file_size))
            ).encode()
        )
        idem = call.state.idempotency
        async with idem.hold(call.idempotency_scope):
            stored = await idem.get(call.idempotency_scope, call.state.clock())
            if stored is not None:
                return replay(stored, fingerprint)
            response = await _commit(call, storage, sink, key, content_type, etag)
            await idem.put(
                call.idempotency_scope,
                StoredResponse(fingerprint, 200, "application/json", bytes(response.body)),
                call.state.clock(),
            )
            return response
    finally:
        sink.close()
        discard(temp)


def _upload_fields(sink: UploadSink) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    if not sink.file_seen:
        errors["file"] = ["Required"]
    key = sink.fields.get("key")
    if key is None:
        errors["key"] = ["Required"]
    content_type = sink.fields.get("contentType")
    if errors or key is None:
        raise validation_error(errors)
    # Precedence: the contentType part, the file part's own Content-Type, the key's extension.
    # A part typed application/octet-stream says nothing (clients send it by default).
    part_type = sink.file_content_type
    if not content_type and part_type and part_type.lower() != DEFAULT_CONTENT_TYPE:
        content_type = part_type if valid_content_type(part_type) else None
    return key, content_type or guess_content_type(key)


async def _commit(
    call: Call, storage: _Storage, sink: UploadSink, key: str, content_type: str, etag: str
) -> Response:
    await storage.objects.commit(
        key,
        sink.temp,
        size=sink.file_size,
        content_type=content_type,
        etag=etag,
        now=call.state.clock(),
    )
    return json_response({"url": storage.signer.url(key)})


# -- reading --


async def get(call: Call) -> Any:
    """``POST /storage/get``: the object's bytes, streamed from disk."""
    key = _key_field(call)
    call.body.check()
    return await _serve(_storage(call.state), key)


async def _serve(storage: _Storage, key: str) -> Response:
    opened = await storage.objects.open(key)
    if opened is None:
        raise not_found(f"No object with key {key!r}")
    info, handle = opened
    return StreamingResponse(
        _chunks(handle),
        headers={
            "content-type": info.content_type,
            "content-length": str(info.size),
            "etag": f'"{info.etag}"',
            "last-modified": formatdate(info.last_modified, usegmt=True),
        },
    )


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, READ_CHUNK_BYTES):
            yield chunk
    finally:
        # Synchronous on purpose: it must run even if the response is cancelled mid-way.
        handle.close()


async def signed_object(call: Call) -> Any:
    """``GET /v1/storage/object/{key}?[expires=…&]sig=…``: serve an object by signed URL."""
    key = call.request.path_params["key"]
    query = call.request.query_params
    expires_text = query.get("expires")
    expires: int | None = None
    if expires_text is not None:
        if not expires_text.isdigit():
            raise ApiError(403, "FORBIDDEN", "Invalid signed URL")
        expires = int(expires_text)
    # A minted project's URLs name it; the signature, made with its own secret, is checked there.
    state = call.state
    project = query.get("project")
    if project is not None:
        found = await state.projects.find(project) if state.projects else None
        if found is None:
            raise ApiError(403, "FORBIDDEN", "Invalid signed URL")
        state = found
    storage = _storage(state)
    if not storage.signer.verify(key, expires, query.get("sig", "")):
        raise ApiError(403, "FORBIDDEN", "Invalid signed URL")
    if expires is not None and expires < call.state.clock():
        raise ApiError(403, "FORBIDDEN", "This signed URL has expired")
    return await _serve(storage, key)


async def get_url(call: Call) -> Any:
    """``POST /storage/getUrl``: a signed URL, valid ``expiresIn`` seconds (default 1 h)."""
    key = _key_field(call)
    seconds = call.body.integer(
        "expiresIn", default=DEFAULT_URL_SECONDS, minimum=1, maximum=MAX_URL_SECONDS
    )
    call.body.check()
    storage = _storage(call.state)
    # Like a presigned URL, it is made without looking the key up; fetching a missing key is 404.
    expires = int(call.state.clock()) + seconds
    return {"url": storage.signer.url(key, expires), "expiresAt": rfc3339(expires)}


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def _decode_cursor(call: Call, cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError, binascii.Error):
        call.body.error("cursor", "Not a cursor returned by /storage/list")
        return None


async def list_objects(call: Call) -> Any:
    """``POST /storage/list``: objects by key order, a page at a time."""
    prefix = call.body.string("prefix", default="", max_bytes=MAX_KEY_BYTES)
    limit = call.body.integer("limit", default=100, minimum=1, maximum=1000)
    cursor = call.body.string("cursor")
    after = _decode_cursor(call, cursor) if isinstance(cursor, str) and cursor else None
    call.body.check()
    page = await _storage(call.state).objects.list(prefix, after, limit + 1)
    truncated = len(page) > limit
    page = page[:limit]
    return {
        "objects": [info.listing() for info in page],
        "truncated": truncated,
        "cursor": _encode_cursor(page[-1].key) if truncated else None,
    }


async def exists(call: Call) -> Any:
    """``POST /storage/exists``."""
    key = _key_field(call)
    call.body.check()
    return {"exists": await _storage(call.state).objects.info(key) is not None}


async def get_metadata(call: Call) -> Any:
    """``POST /storage/getMetadata``: nulls for a missing key."""
    key = _key_field(call)
    call.body.check()
    info = await _storage(call.state).objects.info(key)
    if info is None:
        return {
            "exists": False,
            "size": None,
            "contentType": None,
            "lastModified": None,
            "etag": None,
        }
    return {
        "exists": True,
        "size": info.size,
        "contentType": info.content_type,
        "lastModified": rfc3339(info.last_modified),
        "etag": info.etag,
    }


# -- changing --


async def delete(call: Call) -> Any:
    """``POST /storage/delete``: success whether or not the key existed (like S3)."""
    key = _key_field(call)
    call.body.check()
    deleted = await _storage(call.state).objects.delete(key)
    return {"success": True, "deleted": deleted}


async def _copy_or_move(call: Call, move: bool) -> Any:
    source = _key_field(call, "sourceKey")
    dest = _key_field(call, "destKey")
    call.body.check()
    storage = _storage(call.state)
    now = call.state.clock()
    info: ObjectInfo | None
    if move:
        info = await storage.objects.move(source, dest, now)
    else:
        info = await storage.objects.copy(source, dest, now)
    if info is None:
        raise not_found(f"No object with key {source!r}")
    return {"success": True, "url": storage.signer.url(dest)}


async def copy(call: Call) -> Any:
    """``POST /storage/copy``: a new object ``destKey`` with the bytes of ``sourceKey``."""
    return await _copy_or_move(call, move=False)


async def move(call: Call) -> Any:
    """``POST /storage/move``: rename ``sourceKey`` to ``destKey``."""
    return await _copy_or_move(call, move=True)


# Leftovers of a crash are older than this process; anything newer may be a live upload.
_STARTED = time.time()


async def _sweep(state: ServerState) -> None:
    await anyio.to_thread.run_sync(_storage(state).objects.sweep, _STARTED)


MODULE = RouteModule(
    operations=[
        Operation("/storage/upload", upload, secret_only=True, body="raw"),
        Operation("/storage/get", get, secret_only=True),
        Operation("/storage/getUrl", get_url, secret_only=True),
        Operation("/storage/list", list_objects, secret_only=True),
        Operation("/storage/delete", delete, secret_only=True),
        Operation("/storage/exists", exists, secret_only=True),
        Operation("/storage/getMetadata", get_metadata, secret_only=True),
        Operation("/storage/copy", copy, secret_only=True),
        Operation("/storage/move", move, secret_only=True),
        Operation(
            "/storage/object/{key:path}", signed_object, method="GET", body="none", public=True
        ),
    ],
    schema=SCHEMA,
    background=_sweep,
)
