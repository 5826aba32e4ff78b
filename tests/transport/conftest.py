"""Fixtures of the transport conformance suite: which parser, stream and transport a test runs
on, and test certificates. The servers are the suite's loopback toolkit, ``tests/_loopback.py``;
``make_transport`` is in ``_kinds.py``."""

from __future__ import annotations

import pytest

from aerostack_async._pool._codec import PARSER_ENV
from aerostack_async._pool._transport import STREAM_ENV

from .._loopback import Certificate, make_certificate
from ._kinds import TRANSPORTS

PARSERS = ["httptools", "h11"]


@pytest.fixture(params=PARSERS, autouse=True)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with each protocol library under our pool: the two must agree."""
    monkeypatch.setenv(PARSER_ENV, request.param)
    return request.param  # type: ignore[no-any-return]


STREAMS = ["native", "socket"]


@pytest.fixture(params=STREAMS, autouse=True)
def pool_stream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on the backend's native stream (asyncio's protocol, or trio's own) and on
    the portable socket one."""
    monkeypatch.setenv(STREAM_ENV, "auto" if request.param == "native" else "socket")
    return request.param  # type: ignore[no-any-return]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """httpx's own transport does not use our parser or stream: run those once, not once per
    parser or stream."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (params.get("kind") == "httpx" and params.get("parser") != PARSERS[0]) or (
            params.get("pool_stream", STREAMS[0]) != STREAMS[0] and params.get("kind") == "httpx"
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=TRANSPORTS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which transport a test that checks equivalence runs on."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for 127.0.0.1 and localhost."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "local", "IP:127.0.0.1,DNS:localhost")


@pytest.fixture(scope="session")
def other_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for some other name only."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "other", "DNS:other.example")
