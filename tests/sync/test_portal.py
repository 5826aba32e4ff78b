"""The generic portal mechanism, against a toy async class (no server needed).

The loop thread (``_sync_loop``: its ``started`` flag, and ``root()``, the toy async object
whose state the tests inspect) is the private piece under test here.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import anyio
import anyio.to_thread
import pytest

from aerostack_async._sync import SyncClient, SyncClientClosedError, SyncInEventLoopError

from ._toy import Toy, ToyError


@pytest.fixture(params=["asyncio", "trio"])
def toy(request: pytest.FixtureRequest) -> Iterator[SyncClient]:
    client = SyncClient(Toy, backend=request.param)
    try:
        yield client
    finally:
        client.close()


def test_coroutine_method_becomes_a_blocking_call(toy: SyncClient) -> None:
    assert toy.ping() == "pong"
    assert toy.counter.add(2) == 2
    assert toy.counter.add() == 3


def test_plain_method_is_called_on_the_loop(toy: SyncClient) -> None:
    assert toy.counter.label() == "counter"


def test_exception_keeps_its_type(toy: SyncClient) -> None:
    with pytest.raises(ToyError, match="nope"):
        toy.counter.fail()


def test_async_root_is_created_and_run_on_the_loop_thread(toy: SyncClient) -> None:
    root = toy._sync_loop.root()
    assert root.created_in != threading.get_ident()
    assert toy.counter.thread_id() == root.created_in


def test_loop_starts_lazily_on_first_use() -> None:
    client = SyncClient(Toy)
    try:
        assert not client._sync_loop.started
        client.ping()
        assert client._sync_loop.started
    finally:
        client.close()


def test_with_block_enters_and_exits_the_async_root() -> None:
    with SyncClient(Toy) as client:
        root = client._sync_loop.root()
        assert root.entered
    assert root.exited


def test_close_twice_is_harmless() -> None:
    client = SyncClient(Toy)
    client.ping()
    client.close()
    client.close()


def test_close_without_use_starts_nothing() -> None:
    client = SyncClient(Toy)
    client.close()
    assert not client._sync_loop.started


def test_use_after_close_raises_a_clear_error() -> None:
    client = SyncClient(Toy)
    counter = client.counter
    client.close()
    with pytest.raises(SyncClientClosedError, match="closed"):
        client.ping()
    with pytest.raises(SyncClientClosedError, match="closed"):
        counter.add()


def test_close_stops_the_loop_thread() -> None:
    before = set(threading.enumerate())
    client = SyncClient(Toy)
    client.ping()
    client.close()
    assert set(threading.enumerate()) <= before


def test_async_generator_becomes_a_sync_iterator(toy: SyncClient) -> None:
    assert list(toy.counter.items(5)) == [0, 1, 2, 3, 4]


def test_sync_iterator_can_stop_early_and_close(toy: SyncClient) -> None:
    items = toy.counter.items(100)
    assert next(items) == 0
    assert next(items) == 1
    items.close()
    assert list(items) == []


def test_async_context_manager_becomes_a_sync_one(toy: SyncClient) -> None:
    with toy.counter.stream(["a", "b", "c"]) as stream:
        assert list(stream) == ["a", "b", "c"]
        assert stream.get_final_text() == "a b c"
    assert toy._sync_loop.root().counter.streams[-1].closed


def test_stream_property_iterator_is_made_sync(toy: SyncClient) -> None:
    with toy.counter.stream(["x", "y"]) as stream:
        assert "".join(stream.text_stream) == "xy"


def test_error_inside_sync_context_still_exits_the_async_one(toy: SyncClient) -> None:
    with pytest.raises(KeyError), toy.counter.stream(["a"]):
        raise KeyError("boom")
    assert toy._sync_loop.root().counter.streams[-1].closed


def test_aclose_is_spelt_close_on_the_sync_side(toy: SyncClient) -> None:
    with toy.counter.stream(["a"]) as stream:
        stream.close()
        assert toy._sync_loop.root().counter.streams[-1].closed


def test_threads_share_one_client(toy: SyncClient) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                toy.counter.add()
        except BaseException as exc:  # pragma: no cover (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert toy.counter.add(0) == 1600


def test_close_does_not_hang_on_a_call_left_running_elsewhere() -> None:
    client = SyncClient(Toy)
    started = threading.Event()
    outcome: list[BaseException] = []

    def block() -> None:
        started.set()
        try:
            client.counter.sleep_forever()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=block)
    thread.start()
    started.wait()
    client.ping()  # the loop is up; the sleeper is (about to be) on it
    client.close()
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1


def _drop_an_open_client() -> None:
    def open_one() -> None:
        SyncClient(Toy).ping()

    open_one()
    gc.collect()


def test_garbage_collected_open_client_warns() -> None:
    with pytest.warns(ResourceWarning, match="unclosed SyncClient"):
        _drop_an_open_client()


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="backend"):
        SyncClient(Toy, backend="curio")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_call_inside_anyio_run_raises_the_helpful_error(backend: str) -> None:
    client = SyncClient(Toy)

    async def main() -> None:
        client.ping()

    try:
        with pytest.raises(SyncInEventLoopError, match="AsyncAerostack"):
            anyio.run(main, backend=backend)
    finally:
        client.close()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_call_from_a_worker_thread_of_a_running_loop_works(backend: str) -> None:
    with SyncClient(Toy) as client:

        async def main() -> str:
            return await anyio.to_thread.run_sync(client.ping)

        assert anyio.run(main, backend=backend) == "pong"


def test_generic_async_iterator_object_iterates_and_keeps_its_methods(toy: SyncClient) -> None:
    assert list(toy.lister.names()) == ["a", "b"]
    assert toy.lister.names().collect() == ["a", "b"]


def test_garbage_collected_open_client_closes_its_root_on_the_loop() -> None:
    with pytest.warns(ResourceWarning):
        _drop_an_open_client()
    root = Toy.instances[-1]
    deadline = time.monotonic() + 30
    while not root.exited and time.monotonic() < deadline:
        time.sleep(0.01)
    assert root.exited


def test_buffered_items_come_over_in_one_round_trip(toy: SyncClient) -> None:
    assert list(toy.lister.numbers(50)) == list(range(50))
    # One __anext__ for the first item (the rest handed over with it), one for the end.
    assert toy._sync_loop.root().lister.last.anext_calls == 2


def test_take_buffered_includes_what_the_sync_side_read_ahead(toy: SyncClient) -> None:
    numbers = toy.lister.numbers(5)
    assert next(numbers) == 0
    assert numbers.take_buffered() == [1, 2, 3, 4]
    assert list(numbers) == []
