"""Which server and key a command uses."""

from __future__ import annotations

import argparse

import pytest

from aerostack_async.cli._connection import (
    EMULATOR_KEY,
    add_connection_arguments,
    resolve_api_key,
    resolve_base_url,
)
from aerostack_async.cli._output import CLIError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_arguments(parser)
    return parser.parse_args(list(argv))


def test_environment_local_is_the_emulator_default_address() -> None:
    assert resolve_base_url(parse("--environment", "local")) == "http://localhost:8787/v1"


def test_base_url_flag_wins_over_environment_flag_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AEROSTACK_BASE_URL", "http://127.0.0.1:9/v1")
    args = parse("--base-url", "http://127.0.0.1:7/v1/", "--environment", "local")
    assert resolve_base_url(args) == "http://127.0.0.1:7/v1"


def test_environment_flag_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEROSTACK_BASE_URL", "http://127.0.0.1:9/v1")
    assert resolve_base_url(parse("--environment", "local")) == "http://localhost:8787/v1"


def test_base_url_variable_is_used_without_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEROSTACK_BASE_URL", "http://127.0.0.1:9/v1")
    assert resolve_base_url(parse()) == "http://127.0.0.1:9/v1"


def test_production_is_the_default() -> None:
    assert resolve_base_url(parse()) == "https://api.aerostack.dev/v1"


def test_api_key_flag_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEROSTACK_API_KEY", "sk_from_env")
    assert resolve_api_key(parse("--api-key", "sk_flag"), "https://x/v1") == "sk_flag"


def test_api_key_variable_is_used_without_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEROSTACK_API_KEY", "sk_from_env")
    assert resolve_api_key(parse(), "https://api.aerostack.dev/v1") == "sk_from_env"


def test_a_loopback_server_falls_back_to_the_emulator_key() -> None:
    assert resolve_api_key(parse(), "http://localhost:8787/v1") == EMULATOR_KEY


def test_a_remote_server_without_a_key_is_a_usage_error() -> None:
    with pytest.raises(CLIError, match="no API key") as caught:
        resolve_api_key(parse(), "https://api.aerostack.dev/v1")
    assert caught.value.exit_code == 2
