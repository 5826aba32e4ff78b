"""``db``, ``cache`` and ``queue`` against the session's emulator, run in-process."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import msgspec

from .conftest import Ran

Cli = Callable[..., Ran]


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def test_db_prints_rows_as_a_table(cli: Cli, on_emulator: list[str]) -> None:
    table = unique("cli_people")
    assert cli("db", f"CREATE TABLE {table} (id INTEGER, name TEXT)", *on_emulator).status == 0
    cli("db", f"INSERT INTO {table} VALUES (1, 'Ada'), (2, 'Grace')", *on_emulator)

    ran = cli("db", f"SELECT id, name FROM {table} ORDER BY id", *on_emulator)

    assert ran.status == 0
    lines = ran.out.splitlines()
    assert any("id" in line and "name" in line for line in lines)
    assert any("1" in line and "Ada" in line for line in lines)
    assert any("2" in line and "Grace" in line for line in lines)
    assert "2 rows" in ran.out


def test_db_reports_rows_changed_by_a_write(cli: Cli, on_emulator: list[str]) -> None:
    table = unique("cli_changes")
    cli("db", f"CREATE TABLE {table} (n INTEGER)", *on_emulator)

    ran = cli("db", f"INSERT INTO {table} VALUES (1), (2), (3)", *on_emulator)

    assert ran.status == 0
    assert "3 rows changed" in ran.out


def test_db_params_are_sent_as_json_or_as_strings(cli: Cli, on_emulator: list[str]) -> None:
    ran = cli(
        "db", "SELECT ? AS n, typeof(?) AS t, ? AS s", "-p", "5", "-p", "5", "-p", "alice",
        "--json", *on_emulator,
    )  # fmt: skip

    assert ran.status == 0
    assert msgspec.json.decode(ran.out) == [{"n": 5, "t": "integer", "s": "alice"}]


def test_db_sql_error_prints_one_line_with_status_and_code(
    cli: Cli, on_emulator: list[str]
) -> None:
    ran = cli("db", "SELEC nothing", *on_emulator)

    assert ran.status == 1
    assert ran.err.startswith("error: 400 DB_QUERY_FAILED")
    assert len(ran.err.strip().splitlines()) == 1


def test_cache_set_then_get_prints_the_value_as_json(cli: Cli, on_emulator: list[str]) -> None:
    key = unique("cli:greeting")
    assert cli("cache", "set", key, '{"hello": [1, 2]}', *on_emulator).status == 0

    ran = cli("cache", "get", key, *on_emulator)

    assert ran.status == 0
    assert msgspec.json.decode(ran.out) == {"hello": [1, 2]}


def test_cache_set_stores_non_json_text_as_a_string(cli: Cli, on_emulator: list[str]) -> None:
    key = unique("cli:word")
    cli("cache", "set", key, "hello world", "--ttl", "60", *on_emulator)

    assert cli("cache", "get", key, *on_emulator).out.strip() == '"hello world"'


def test_cache_get_of_a_missing_key_exits_1(cli: Cli, on_emulator: list[str]) -> None:
    ran = cli("cache", "get", unique("cli:missing"), *on_emulator)

    assert ran.status == 1
    assert ran.out == ""  # stdout stays clean for pipes
    assert "no value" in ran.err


def test_queue_enqueue_prints_the_job_id_and_jobs_lists_it(
    cli: Cli, on_emulator: list[str]
) -> None:
    job_type = unique("cli-email")
    enqueued = cli("queue", "enqueue", job_type, '{"to": "ada"}', "--delay", "60", *on_emulator)
    job_id = enqueued.out.strip()

    ran = cli("queue", "jobs", "--type", job_type, *on_emulator)

    assert enqueued.status == 0
    assert ran.status == 0
    assert job_id[:8] in ran.out
    assert "1 queued" in ran.out


def test_queue_jobs_filters_by_status(cli: Cli, on_emulator: list[str]) -> None:
    job_type = unique("cli-filter")
    cli("queue", "enqueue", job_type, "{}", *on_emulator)

    ran = cli("queue", "jobs", "--type", job_type, "--status", "cancelled", *on_emulator)

    assert ran.status == 0
    assert "queued" not in ran.out


def test_queue_enqueue_refuses_data_that_is_not_a_json_object(
    cli: Cli, on_emulator: list[str]
) -> None:
    ran = cli("queue", "enqueue", "email", "[1, 2]", *on_emulator)

    assert ran.status == 2
    assert ran.err.startswith("error: the job data must be a JSON object")
