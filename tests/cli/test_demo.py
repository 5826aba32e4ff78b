"""``demo`` tours the API with tiny sizes, against the session's emulator and its own."""

from __future__ import annotations

from collections.abc import Callable

from aerostack_async.testing import Emulator, run_emulator

from .conftest import Ran, run_process

Cli = Callable[..., Ran]
TINY = ["--size-mb", "2", "--keys", "500", "--jobs", "50"]
STEPS = [
    "auth: sign up and sign in",
    "database: create a table and query it",
    "cache: set_many 500 keys",
    "cache: get_many 500 keys",
    "queue: enqueue_many 50 jobs",
    "storage: upload 2 MiB",
    "storage: download 2 MiB and verify",
    "ai: stream a chat reply",
]


def test_demo_tours_every_step_against_a_given_server(cli: Cli, emulator: Emulator) -> None:
    ran = cli("demo", *TINY, "--base-url", emulator.base_url, "--api-key", emulator.api_key)

    assert ran.status == 0, ran.err
    assert f"against {emulator.base_url}" in ran.out
    summary = ran.out.split("Summary", 1)[1]
    for step in STEPS:
        assert step in summary
    assert "Jupiter" in ran.out  # the query's table
    assert "sha256 matches" in ran.out
    assert "cancelled" in ran.out  # the job status counts
    assert "queued" in ran.out
    assert ran.err == ""


def test_demo_starts_and_stops_its_own_emulator() -> None:
    ran = run_process("demo", *TINY, timeout=120)

    assert ran.status == 0, ran.err
    assert "Started an emulator at http://127.0.0.1:" in ran.out
    assert "all steps:" in ran.out
    assert "Traceback" not in ran.err


def test_a_failing_step_stops_the_demo_with_one_line(cli: Cli) -> None:
    # This emulator refuses files over 1 MiB, so the 2 MiB upload step fails.
    with run_emulator("--max-upload-bytes", str(2**20)) as small:
        ran = cli("demo", *TINY, "--base-url", small.base_url, "--api-key", small.api_key)

    assert ran.status == 1
    assert ran.err.startswith("error: 413")
    assert len(ran.err.strip().splitlines()) == 1
    assert "storage: upload 2 MiB" in ran.out
    assert "Summary" not in ran.out
