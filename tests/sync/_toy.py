"""A small async class with every shape the sync facade must mirror, for portal tests."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel


class ToyError(Exception):
    """Raised by ``Counter.fail``."""


class ToyStream:
    """Like a chat stream: async iterable, async methods, a property yielding text."""

    def __init__(self, words: list[str]) -> None:
        self._words = words
        self.closed = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        for word in self._words:
            await anyio.lowlevel.checkpoint()
            yield word

    @property
    def text_stream(self) -> AsyncIterator[str]:
        return self._iterate()

    async def get_final_text(self) -> str:
        return " ".join(self._words)

    async def aclose(self) -> None:
        self.closed = True


class Counter:
    """Like a resource: coroutine methods, an async generator, an async context manager."""

    def __init__(self) -> None:
        self._lock = anyio.Lock()  # needs a running loop: proves creation on the loop thread
        self.value = 0
        self.streams: list[ToyStream] = []

    async def add(self, amount: int = 1) -> int:
        async with self._lock:
            self.value += amount
            return self.value

    async def fail(self) -> None:
        raise ToyError("nope")

    async def thread_id(self) -> int:
        return threading.get_ident()

    async def items(self, count: int) -> AsyncIterator[int]:
        for i in range(count):
            await anyio.lowlevel.checkpoint()
            yield i

    @asynccontextmanager
    async def stream(self, words: list[str]) -> AsyncIterator[ToyStream]:
        toy = ToyStream(words)
        self.streams.append(toy)
        try:
            yield toy
        finally:
            await toy.aclose()

    async def sleep_forever(self) -> None:
        await anyio.sleep_forever()

    def label(self) -> str:
        return "counter"


class Toy:
    """Like the client: an async context manager holding resources."""

    instances: list[Toy] = []

    def __init__(self) -> None:
        self.counter = Counter()
        self.lister = Lister()
        self.created_in = threading.get_ident()
        self.entered = False
        self.exited = False
        Toy.instances.append(self)

    async def __aenter__(self) -> Toy:
        self.entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.exited = True

    async def ping(self) -> str:
        return "pong"


T = TypeVar("T")


class Paged(Generic[T]):
    """Like ``Pages``: a generic async iterator with a coroutine method."""

    def __init__(self, items: list[T]) -> None:
        self._items = list(items)
        self.anext_calls = 0

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        self.anext_calls += 1
        if not self._items:
            raise StopAsyncIteration
        return self._items.pop(0)

    def take_buffered(self) -> list[T]:
        taken, self._items = self._items, []
        return taken

    async def collect(self) -> list[T]:
        return [item async for item in self]


class Lister:
    """A resource whose method returns a generic async iterator."""

    def names(self) -> Paged[str]:
        return Paged(["a", "b"])

    def numbers(self, count: int) -> Paged[int]:
        self.last = Paged(list(range(count)))
        return self.last
