"""``upload``, ``download`` and ``chat`` against the session's emulator."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from aerostack_async.testing import Emulator

from .conftest import Ran, run_process

Cli = Callable[..., Ran]


def test_upload_then_download_round_trips_the_bytes(
    cli: Cli, on_emulator: list[str], tmp_path: Path
) -> None:
    data = secrets.token_bytes(3 * 2**20 + 17)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    key = f"cli/{secrets.token_hex(4)}/blob.bin"

    uploaded = cli("upload", str(source), key, *on_emulator)
    downloaded = cli("download", key, str(tmp_path / "copy.bin"), *on_emulator)

    assert uploaded.status == 0, uploaded.err
    assert downloaded.status == 0, downloaded.err
    assert (tmp_path / "copy.bin").read_bytes() == data
    assert f"saved {len(data):,} bytes" in downloaded.out


def test_upload_shows_a_progress_bar_and_the_url(
    cli: Cli, on_emulator: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "note.txt"
    source.write_text("hello")

    ran = cli("upload", str(source), f"cli/{secrets.token_hex(4)}/note.txt", *on_emulator)

    assert ran.status == 0
    assert "upload" in ran.out
    assert "/note.txt" in ran.out.splitlines()[-1]


def test_upload_key_defaults_to_the_file_name(
    cli: Cli, on_emulator: list[str], tmp_path: Path
) -> None:
    name = f"cli-{secrets.token_hex(4)}.txt"
    (tmp_path / name).write_text("x")

    cli("upload", str(tmp_path / name), *on_emulator)
    ran = cli("download", name, str(tmp_path / "back.txt"), *on_emulator)

    assert ran.status == 0
    assert (tmp_path / "back.txt").read_text() == "x"


def test_download_of_a_missing_key_is_one_not_found_line(
    cli: Cli, on_emulator: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "nothing.bin"

    ran = cli("download", "cli/does-not-exist.bin", str(target), *on_emulator)

    assert ran.status == 1
    assert ran.err.startswith("error: 404 NOT_FOUND")
    assert not target.exists()


def test_chat_message_prints_the_streamed_reply(cli: Cli, on_emulator: list[str]) -> None:
    ran = cli("chat", "--message", "Say hello", "--max-tokens", "20", *on_emulator)

    assert ran.status == 0, ran.err
    assert ran.out.strip()
    assert ran.out.endswith("\n")


def test_chat_answers_each_line_of_stdin(emulator: Emulator) -> None:
    flags = ["--base-url", emulator.base_url, "--api-key", emulator.api_key]

    ran = run_process("chat", "--max-tokens", "8", *flags, stdin="first question\n\nsecond\n")

    assert ran.status == 0, ran.err
    assert len(ran.out.strip().splitlines()) == 2  # one reply per non-empty line
    assert "you>" not in ran.out  # no prompt when stdin is not a terminal
