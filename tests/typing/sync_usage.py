"""Typed use of the sync facade: ``mypy --strict`` must accept this file as it is.

Not run, only type-checked (by ``test_sync_typing.py``): every ``assert_type`` pins the type a
checker sees through the generated ``_sync_types.pyi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typing_extensions import assert_type

from aerostack_async import Aerostack
from aerostack_async.models.ai import ChatCompletion, ChatCompletionChunk
from aerostack_async.models.cache import CacheGetResult, CacheKeyInfo, CacheValue
from aerostack_async.models.database import QueryResult
from aerostack_async.models.queue import EnqueueResult, JobRecord
from aerostack_async.models.storage import UploadResult


def use(path: Path) -> None:
    with Aerostack(api_key="sk_test", base_url="http://127.0.0.1:8787/v1") as client:
        assert_type(client, Aerostack)
        assert_type(client.cache.get("k"), CacheGetResult)
        assert_type(client.cache.get_many(["a", "b"]), list[CacheValue])
        assert_type(client.database.query("SELECT 1"), QueryResult[dict[str, Any]])
        assert_type(client.queue.enqueue("email", {"to": "a@b.c"}, delay=5), EnqueueResult)
        assert_type(client.storage.upload("a/b.txt", path), UploadResult)
        for info in client.cache.list("user:"):
            assert_type(info, CacheKeyInfo)
        for job in client.queue.list_jobs(type="email"):
            assert_type(job, JobRecord)
        with client.ai.chat_stream("Hi") as stream:
            for chunk in stream:
                assert_type(chunk, ChatCompletionChunk)
            for text in stream.text_stream:
                assert_type(text, str)
            assert_type(stream.get_final_text(), str)
        with client.storage.download("a/b.txt") as download:
            assert_type(download.size, int | None)
            assert_type(download.save(path), int)
        assert_type(client.ai.chat("Hi", model="m"), ChatCompletion)
        patient = client.with_options(retry=None)
        assert_type(patient.cache.get("k").exists, bool)
    client.close()


def use_trio() -> None:
    client = Aerostack(api_key="sk_test", backend="trio")
    client.close()
