"""The stub generator derives sync signatures from async classes (checked on the toy class)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ._toy import Toy

# A development tool, outside the package (and so outside the wheel): loaded from its file.
_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sync_stubgen.py"
_spec = importlib.util.spec_from_file_location("sync_stubgen", _SCRIPT)
assert _spec is not None
assert _spec.loader is not None
stubgen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stubgen)
generate_stub = stubgen.generate_stub


@pytest.fixture(scope="module")
def stub() -> str:
    return generate_stub(Toy)


def test_coroutine_method_becomes_a_plain_method(stub: str) -> None:
    assert "def add(self, amount: int = ...) -> int: ..." in stub


def test_async_generator_becomes_an_iterator(stub: str) -> None:
    assert "def items(self, count: int) -> Iterator[int]: ..." in stub


def test_async_context_manager_becomes_a_sync_one_of_the_sync_object(stub: str) -> None:
    assert "def stream(self, words: list[str]) -> AbstractContextManager[SyncToyStream]" in stub


def test_async_iterable_becomes_iterable_and_aclose_becomes_close(stub: str) -> None:
    assert "def __iter__(self) -> Iterator[str]: ..." in stub
    assert "def close(self) -> None: ..." in stub


def test_property_of_an_async_iterator_becomes_a_sync_iterator(stub: str) -> None:
    assert "def text_stream(self) -> Iterator[str]: ..." in stub


def test_resource_attribute_points_at_its_sync_class(stub: str) -> None:
    assert "counter: SyncCounter" in stub


def test_root_takes_the_backend_options(stub: str) -> None:
    assert 'backend: Literal["asyncio", "trio"] = ...' in stub


def test_stub_compiles(stub: str) -> None:
    compile(stub, "_sync_types.pyi", "exec")


def test_generic_async_iterator_gets_a_generic_mirror(stub: str) -> None:
    assert "class SyncPaged(Generic[T]):" in stub
    assert "def names(self) -> SyncPaged[str]: ..." in stub
    assert "def __next__(self) -> T: ..." in stub
