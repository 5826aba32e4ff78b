"""Errors that point at their fix: a base URL without /v1, nothing listening, a wrong key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aerostack_async.cli._runner import describe
from aerostack_async.errors import APIConnectionError
from aerostack_async.testing import Emulator

from .conftest import Ran

Cli = Callable[..., Ran]


def test_a_base_url_without_v1_is_named_with_the_fix(cli: Cli, emulator: Emulator) -> None:
    ran = cli("cache", "get", "k", "--base-url", emulator.origin, "--api-key", emulator.api_key)

    assert ran.status == 1
    assert ran.err.startswith("error: 404 NOT_FOUND")
    assert ran.err.rstrip().endswith(
        f"the base URL {emulator.origin} does not end in /v1 (try {emulator.origin}/v1)"
    )
    assert len(ran.err.strip().splitlines()) == 1


def test_a_trailing_slash_after_the_origin_gets_the_same_hint(cli: Cli, emulator: Emulator) -> None:
    ran = cli("db", "SELECT 1", "--base-url", emulator.origin + "/", "--api-key", emulator.api_key)

    assert ran.status == 1
    assert f"does not end in /v1 (try {emulator.origin}/v1)" in ran.err


def test_a_real_not_found_under_v1_gets_no_base_url_hint(
    cli: Cli, on_emulator: list[str], tmp_path: Path
) -> None:
    ran = cli("download", "hints/missing.bin", str(tmp_path / "x"), *on_emulator)

    assert ran.status == 1
    assert ran.err.startswith("error: 404 NOT_FOUND")
    assert "/v1" not in ran.err


def test_nothing_listening_on_loopback_asks_whether_the_emulator_runs(cli: Cli) -> None:
    # Port 9 (discard) has no listener on loopback in the test environment.
    ran = cli("cache", "get", "k", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk_x")

    assert ran.status == 1
    assert ran.err.strip() == (
        "error: no response from http://127.0.0.1:9/v1: connection refused; "
        "is `aerostack-async serve` running on port 9?"
    )


def test_a_refused_remote_server_points_at_the_base_url() -> None:
    # No remote server can be reached from the test machine: the refusal is built as the
    # client raises it (our error, from the OS error).
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as refused:
            raise APIConnectionError("POST /cache/get: ConnectError: refused") from refused
    except APIConnectionError as exc:
        line = describe(exc, "https://api.example.com/v1")

    assert line == (
        "no response from https://api.example.com/v1: connection refused; "
        "check the host and port of the base URL"
    )


def test_a_timeout_is_not_called_a_refusal() -> None:
    line = describe(APIConnectionError("POST /cache/get: ReadTimeout"), "http://127.0.0.1:9/v1")

    assert line == "no response from http://127.0.0.1:9/v1: POST /cache/get: ReadTimeout"


def test_a_wrong_key_names_where_the_key_comes_from(cli: Cli, emulator: Emulator) -> None:
    ran = cli("db", "SELECT 1", "--base-url", emulator.base_url, "--api-key", "sk_wrong")

    assert ran.status == 1
    assert ran.err.startswith("error: 401 AUTH_INVALID_KEY")
    assert ran.err.rstrip().endswith("; check --api-key or AEROSTACK_API_KEY")
    assert "sk_wrong" not in ran.err
