"""``Aerostack``, the blocking client, against the emulator: every shape of the async surface."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from aerostack_async import errors
from aerostack_async._sync import Aerostack, SyncClientClosedError, SyncInEventLoopError
from aerostack_async.testing import Emulator

from ._adapter import loop_threads


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def client(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Aerostack]:
    with Aerostack(
        api_key=emulator.api_key, base_url=emulator.base_url, backend=request.param
    ) as sync_client:
        yield sync_client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_calls_block_and_return_the_core_types(client: Aerostack) -> None:
    key = unique("sync")
    assert client.cache.set(key, {"n": 1}).success
    got = client.cache.get(key)
    assert (got.exists, got.value) == (True, {"n": 1})


def test_errors_are_the_core_error_classes(client: Aerostack) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        client.database.query("SELEKT nonsense")
    assert caught.value.code == "DB_QUERY_FAILED"


def test_bad_input_is_rejected_before_sending(client: Aerostack) -> None:
    with pytest.raises(errors.InvalidRequestError):
        client.cache.get("")


def test_eight_threads_share_one_client_for_500_mixed_calls_each(client: Aerostack) -> None:
    prefix = unique("threads")
    failures: list[BaseException] = []
    counter = f"{prefix}:counter"

    def work(worker: int) -> None:
        try:
            for i in range(500):
                key = f"{prefix}:{worker}:{i % 10}"
                if i % 3 == 0:
                    client.cache.set(key, i)
                elif i % 3 == 1:
                    client.cache.get(key)
                else:
                    client.cache.increment(counter)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    # 166 increments per worker (i % 3 == 2 for i < 500), and increments are atomic.
    assert client.cache.get(counter).value == 8 * 166


def test_cache_list_is_a_sync_iterator_over_every_page(client: Aerostack) -> None:
    prefix = unique("page")
    client.cache.set_many([{"key": f"{prefix}:{i:02}", "value": i} for i in range(25)])
    keys = [info.key for info in client.cache.list(prefix, limit=7)]
    assert keys == [f"{prefix}:{i:02}" for i in range(25)]


def test_pages_collect_is_a_blocking_call(client: Aerostack) -> None:
    prefix = unique("collect")
    client.cache.set_many([{"key": f"{prefix}:{i}", "value": i} for i in range(3)])
    assert len(client.cache.list(prefix, limit=2).collect()) == 3


def test_queue_list_jobs_is_a_sync_iterator(client: Aerostack) -> None:
    job_type = unique("job")
    ids = [client.queue.enqueue(job_type, {"n": n}).job_id for n in range(5)]
    listed = [job.id for job in client.queue.list_jobs(type=job_type, limit=2)]
    assert sorted(listed) == sorted(ids)


def test_batching_works_through_the_facade(client: Aerostack) -> None:
    prefix = unique("batch")
    keys = [f"{prefix}:{i}" for i in range(150)]
    client.cache.set_many([{"key": k, "value": i} for i, k in enumerate(keys)])
    values = client.cache.get_many(keys)
    assert [v.value for v in values] == list(range(150))
    client.cache.delete_many(keys)
    assert not any(v.exists for v in client.cache.get_many(keys))


def test_enqueue_many_with_a_progress_callback_works_through_the_facade(
    client: Aerostack,
) -> None:
    job_type = unique("many")
    progress: list[object] = []
    results = client.queue.enqueue_many(
        [(job_type, {"n": n}) for n in range(30)], on_progress=lambda *a: progress.append(a)
    )
    assert len({r.job_id for r in results}) == 30
    assert progress
    assert {job.id for job in client.queue.list_jobs(type=job_type)} == {r.job_id for r in results}


def test_chat_stream_is_a_sync_context_manager_yielding_text(client: Aerostack) -> None:
    with client.ai.chat_stream("hello there") as stream:
        tokens = list(stream.text_stream)
        final = stream.get_final_text()
    assert len(tokens) > 1
    assert "".join(tokens) == final
    assert final == client.ai.chat("hello there").response


def test_chat_stream_iterates_chunks(client: Aerostack) -> None:
    with client.ai.chat_stream("chunks please") as stream:
        chunks = list(stream)
    assert chunks
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)


def test_leaving_a_stream_early_leaves_the_client_usable(client: Aerostack) -> None:
    with client.ai.chat_stream("a long answer") as stream:
        next(iter(stream.text_stream))
    assert client.cache.get(unique("after")).exists is False


def test_upload_from_a_path_then_download_and_save(client: Aerostack, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 300_000)
    key = f"{unique('files')}/source.bin"
    client.storage.upload(key, source)
    target = tmp_path / "copy.bin"
    with client.storage.download(key) as download:
        assert download.size == 300_000
        download.save(target)
    assert target.read_bytes() == source.read_bytes()


def test_upload_from_a_generator(client: Aerostack) -> None:
    key = f"sync-gen/{uuid.uuid4().hex}.txt"
    client.storage.upload(key, (b"%d\n" % i for i in range(1000)))
    assert client.storage.get(key) == b"".join(b"%d\n" % i for i in range(1000))


def test_upload_from_a_sync_file_object_and_bytes(client: Aerostack, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"from a file")
    key_file, key_bytes = unique("f") + ".txt", unique("b") + ".txt"
    with path.open("rb") as file:
        client.storage.upload(key_file, file)
    client.storage.upload(key_bytes, b"from bytes")
    assert client.storage.get(key_file) == b"from a file"
    assert client.storage.get(key_bytes) == b"from bytes"


def test_download_body_iterates_synchronously(client: Aerostack) -> None:
    key = unique("iter") + ".bin"
    client.storage.upload(key, b"abc" * 1000)
    with client.storage.download(key) as download:
        body = b"".join(download.aiter_bytes(chunk_size=512))
    assert body == b"abc" * 1000


def test_storage_list_is_a_sync_iterator(client: Aerostack) -> None:
    prefix = unique("list")
    for i in range(3):
        client.storage.upload(f"{prefix}/{i}.txt", b"%d" % i)
    assert [o.key for o in client.storage.list(prefix + "/", limit=2)] == [
        f"{prefix}/{i}.txt" for i in range(3)
    ]


def test_with_options_gives_a_blocking_copy(client: Aerostack) -> None:
    patient = client.with_options(retry=None)
    assert patient.cache.get(unique("copy")).exists is False


@pytest.mark.anyio
async def test_calling_it_inside_an_event_loop_raises_the_helpful_error(
    client: Aerostack,
) -> None:
    with pytest.raises(SyncInEventLoopError, match="AsyncAerostack"):
        client.cache.get("anything")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_calling_it_inside_anyio_run_raises_the_helpful_error(
    client: Aerostack, backend: str
) -> None:
    async def main() -> None:
        client.cache.get("anything")

    with pytest.raises(SyncInEventLoopError, match="AsyncAerostack"):
        anyio.run(main, backend=backend)


def test_loop_thread_starts_on_first_use(emulator: Emulator) -> None:
    before = loop_threads()
    fresh = Aerostack(api_key=emulator.api_key, base_url=emulator.base_url)
    try:
        assert loop_threads() == before
        fresh.cache.get("x")
        assert len(loop_threads() - before) == 1
    finally:
        fresh.close()


def test_close_twice_is_harmless(emulator: Emulator) -> None:
    fresh = Aerostack(api_key=emulator.api_key, base_url=emulator.base_url)
    fresh.cache.get("x")
    fresh.close()
    fresh.close()


def test_use_after_close_is_a_clear_error(emulator: Emulator) -> None:
    fresh = Aerostack(api_key=emulator.api_key, base_url=emulator.base_url)
    cache = fresh.cache
    fresh.close()
    with pytest.raises(SyncClientClosedError, match="closed"):
        cache.get("x")
    with pytest.raises(SyncClientClosedError, match="closed"):
        fresh.cache.get("x")


def test_bad_configuration_is_reported_on_first_use() -> None:
    fresh = Aerostack(api_key="sk_x", base_url="not a url")
    with pytest.raises(errors.ConfigurationError):
        fresh.cache.get("x")
    fresh.close()


def test_unknown_argument_is_a_type_error_at_construction() -> None:
    with pytest.raises(TypeError, match="api_kee"):
        Aerostack(api_kee="sk_x")  # type: ignore[call-arg]
