"""Failures print one ``error: ...`` line and exit non-zero, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from aerostack_async.testing import Emulator

from .conftest import Ran, run_process

Cli = Callable[..., Ran]


def test_a_bad_key_prints_one_line_and_exits_non_zero(emulator: Emulator) -> None:
    ran = run_process("db", "SELECT 1", "--base-url", emulator.base_url, "--api-key", "sk_wrong")

    assert ran.status == 1
    assert ran.err.strip().splitlines() == [ran.err.strip()]
    assert ran.err.startswith("error: 401 AUTH_INVALID_KEY")
    assert "Traceback" not in ran.err
    assert "sk_wrong" not in ran.err + ran.out


def test_the_key_can_come_from_the_environment(emulator: Emulator) -> None:
    env = {"AEROSTACK_BASE_URL": emulator.base_url, "AEROSTACK_API_KEY": "sk_wrong"}

    ran = run_process("cache", "get", "anything", env=env)

    assert ran.status == 1
    assert ran.err.startswith("error: 401 AUTH_INVALID_KEY")


def test_an_unreachable_server_names_the_url(cli: Cli) -> None:
    # Port 9 (discard) has no listener on loopback in the test environment.
    ran = cli("cache", "get", "k", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk_x")

    assert ran.status == 1
    assert ran.err.startswith("error: no response from http://127.0.0.1:9/v1")
    assert len(ran.err.strip().splitlines()) == 1


def test_a_remote_server_without_a_key_is_a_usage_error(cli: Cli) -> None:
    ran = cli("cache", "get", "k", "--base-url", "https://api.example.invalid/v1")

    assert ran.status == 2
    assert ran.err.strip() == "error: no API key: pass --api-key or set AEROSTACK_API_KEY"


def test_invalid_input_is_refused_before_anything_is_sent(cli: Cli) -> None:
    # A key over 512 bytes: the client refuses it; no server is even needed.
    ran = cli("cache", "get", "k" * 600, "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk")

    assert ran.status == 2
    assert "512 bytes" in ran.err
    assert "no response" not in ran.err


def test_a_missing_upload_file_is_one_line(cli: Cli, on_emulator: list[str]) -> None:
    ran = cli("upload", "/nonexistent/file.bin", *on_emulator)

    assert ran.status == 2
    assert ran.err.strip() == "error: not a file: /nonexistent/file.bin"


def test_without_rich_a_client_command_prints_a_hint(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)

    ran = cli("cache", "get", "k", "--environment", "local")

    assert ran.status == 2
    assert ran.err.strip() == "error: this command needs rich: pip install 'aerostack-async[cli]'"


def test_serve_keeps_its_flags(cli: Cli) -> None:
    ran = cli("serve", "--help")

    assert ran.status == 0
    for flag in ("--memory", "--port", "--ai-token-delay-ms", "--queue-consumer"):
        assert flag in ran.out


def test_an_unknown_command_is_a_usage_error(cli: Cli) -> None:
    ran = cli("frobnicate")

    assert ran.status == 2
    assert "invalid choice" in ran.err
