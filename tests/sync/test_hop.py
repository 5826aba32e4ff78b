"""The facade's light hop onto the loop: not the portal's task spawn; Ctrl-C still cancels."""

from __future__ import annotations

import signal
import threading

import anyio
import pytest
from anyio.from_thread import BlockingPortal

from aerostack_async._sync import SyncClient


class Sleeper:
    """An async root whose one method waits until cancelled, and says when it was."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.loop_thread = threading.get_ident()

    async def sleep(self) -> None:
        self.started.set()
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise

    async def where(self) -> int:
        return threading.get_ident()


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def test_calls_run_on_the_portal_s_loop_without_its_task_spawn(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = SyncClient(Sleeper, backend=backend)
    try:
        # The hop itself is under test: root() is the Sleeper, and starts the loop.
        root = client._sync_loop.root()

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("a call went through BlockingPortal.start_task_soon")

        monkeypatch.setattr(BlockingPortal, "start_task_soon", refuse)
        assert client.where() == root.loop_thread
        assert [client.where() for _ in range(50)] == [root.loop_thread] * 50
    finally:
        monkeypatch.undo()
        client.close()


def test_ctrl_c_while_waiting_cancels_the_call_on_the_loop(backend: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is delivered to the main thread")
    client = SyncClient(Sleeper, backend=backend)
    try:
        root = client._sync_loop.root()  # the Sleeper, to see the call start on the loop
        main = threading.main_thread().ident
        assert main is not None

        def interrupt() -> None:
            if root.started.wait(10):
                signal.pthread_kill(main, signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            client.sleep()
        assert root.cancelled.wait(10)
        # The loop is unharmed: the next call works.
        assert client.where() == root.loop_thread
    finally:
        client.close()
