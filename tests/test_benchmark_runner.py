"""The benchmark report: ``benchmarks/run_all.py`` turns results into RESULTS.md and a chart.

A tiny fake results dict stands in for a run; nothing is measured here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run_all", RUN_ALL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def fake_results() -> dict[str, Any]:
    """One run: ours 3x the seed at c=1 but only 2x at c=16; get_many 100x; emulator slow."""
    requests = {
        "options": {"seconds": 1, "repeat": 1},
        "rows": [
            {"client": "aerostack_async", "concurrency": 1, "ops_per_s": 300, "cpu_us": 400},
            {"client": "seed SDK 0.1.2", "concurrency": 1, "ops_per_s": 100, "cpu_us": 2000},
            {"client": "raw httpx", "concurrency": 1, "ops_per_s": 200, "cpu_us": 800},
            {"client": "aerostack_async", "concurrency": 16, "ops_per_s": 200, "cpu_us": 300},
            {"client": "seed SDK 0.1.2", "concurrency": 16, "ops_per_s": 100, "cpu_us": 3000},
            {"client": "raw httpx", "concurrency": 16, "ops_per_s": 150, "cpu_us": 1000},
        ],
    }
    batching = {
        "keys": 10_000,
        "jobs": 5_000,
        "get_many": {"ours_s": 0.1, "seed_s": 10.0},
        "enqueue_many": {"ours_s": 1.0, "seed_s": 5.0},
        "fan_out": {"asyncio": {"workers_s": 0.02, "tasks_s": 0.5}},
    }
    load = {
        "generator": "wrk",
        "connections": 64,
        "seconds": 1,
        "rows": [
            {
                "route": "/cache/set",
                "requests": 1500,
                "rps": 1500.0,
                "p50_ms": 1.0,
                "p90_ms": 2.0,
                "p99_ms": 3.0,
                "max_ms": 4.0,
                "errors": 0,
                "server_cpu_us": 100.0,
            }
        ],
    }

    def entry(script: str, data: Any) -> dict[str, Any]:
        return {"script": script, "args": [], "seconds": 1.0, "returncode": 0, "data": data}

    return {
        "date": "2026-01-01 00:00 UTC",
        "command": ".venv/bin/python benchmarks/run_all.py",
        "quick": False,
        "machine": {"cpu": "Test CPU", "cores": 2, "versions": {"httpx": "0.28.1"}},
        "load_before": [0.1, 0.2, 0.3],
        "load_after": [1.0, 0.5, 0.4],
        "benchmarks": {
            "requests": entry("benchmarks/bench_requests.py", requests),
            "batching": entry("benchmarks/bench_batching.py", batching),
            "emulator_load": entry("benchmarks/emulator_load.py", load),
            "streaming": entry("benchmarks/bench_streaming.py", None),
        },
    }


def summary_row(report: str, claim_start: str) -> list[str]:
    """The cells of the summary table's row whose claim starts with ``claim_start``."""
    for line in report.splitlines():
        if line.startswith(f"| {claim_start}"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"no row for {claim_start!r} in:\n{report}")


@pytest.fixture
def report(run_all: ModuleType, tmp_path: Path) -> str:
    path = run_all.write_outputs(fake_results(), tmp_path, tmp_path / "assets" / "chart.png")
    text: str = path.read_text()
    return text


def test_ratio_table_comes_before_the_absolute_numbers(report: str) -> None:
    assert report.index("| claim | target | measured | verdict |") < report.index(
        "## Request/response"
    )


def test_a_target_met_at_every_concurrency_is_met(report: str) -> None:
    assert summary_row(report, "client CPU/request vs raw httpx") == [
        "client CPU/request vs raw httpx.AsyncClient (httpx's pool) at c=1/16",
        "<= 1.2x",
        "0.50x / 0.30x",
        "met",
    ]


def test_a_target_missed_at_one_concurrency_is_missed(report: str) -> None:
    row = summary_row(report, "cache set/get ops/s vs seed SDK")
    assert row[2:] == ["3.00x / 2.00x", "**MISSED**"]


def test_batch_ratios_are_seed_time_over_ours(report: str) -> None:
    assert summary_row(report, "get_many 10,000 keys")[2:] == ["100.0x", "met"]
    assert summary_row(report, "enqueue_many 5,000 jobs")[2:] == ["5.00x", "met"]


def test_emulator_below_its_throughput_target_is_missed(report: str) -> None:
    assert summary_row(report, "emulator cache req/s")[2:] == ["1,500 req/s", "**MISSED**"]


def test_a_benchmark_without_data_is_reported_not_measured(report: str) -> None:
    assert summary_row(report, "streaming: the benchmark did not finish")[2:] == [
        "no data",
        "not measured",
    ]


def test_report_links_the_chart_by_relative_path(report: str, tmp_path: Path) -> None:
    assert "](assets/chart.png)" in report
    assert (tmp_path / "assets" / "chart.png").stat().st_size > 0


def test_report_describes_the_machine_and_the_load(report: str) -> None:
    assert "Test CPU, 2 cores" in report
    assert "before: 0.10 / 0.20 / 0.30; after: 1.00 / 0.50 / 0.40" in report
    assert "`.venv/bin/python benchmarks/run_all.py`" in report


def fake_latency() -> dict[str, Any]:
    """bench_latency.py's data: batches through the proxy, a sweep, time to first token."""

    def batch(cold: float, warm: float, connections: int) -> dict[str, float]:
        return {"cold_s": cold, "warm_s": warm, "connections": connections}

    return {
        "delay_ms": 25.0,
        "keys": 10_000,
        "jobs": 2_000,
        "get_many": {"ours": batch(0.4, 0.3, 0), "aiohttp_s": 0.2, "seed_s": 50.0},
        "enqueue_many": {"ours": batch(6.0, 5.0, 0), "aiohttp_s": 4.0, "seed_s": 20.0},
        "sweep": [
            {
                "path": "latency",
                "concurrency": 50,
                "keepalive": 20,
                "get_many": batch(0.3, 0.25, 80),
                "enqueue_many": batch(2.5, 2.4, 80),
            }
        ],
        "ttft": {"ours": {"cold_ms": 110.0, "warm_ms": 55.0}},
    }


def test_the_latency_section_shows_batches_sweep_and_first_tokens(
    run_all: ModuleType, tmp_path: Path
) -> None:
    results = fake_results()
    results["benchmarks"]["latency"] = {
        "script": "benchmarks/bench_latency.py",
        "args": [],
        "seconds": 1.0,
        "returncode": 0,
        "data": fake_latency(),
    }
    report = run_all.write_outputs(results, tmp_path, tmp_path / "chart.png").read_text()

    assert "## Latency: batches and first tokens through 25 ms each way" in report
    assert "| enqueue_many 2,000 | seed SDK, gather + semaphore 64 | 20.000 | 100 |" in report
    assert "| latency | 50 | 20 | 0.300 / 0.250 (80) | 2.500 / 2.400 (80) |" in report
    assert "| ours | 110.0 | 55.0 |" in report


def test_merge_replaces_only_the_rerun_benchmark(
    run_all: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rerun(bench: Any, quick: bool, scratch: Path) -> dict[str, Any]:
        assert not quick
        return {"script": f"benchmarks/{bench.script}", "args": [], "seconds": 2.0,
                "returncode": 0, "data": fake_latency()}  # fmt: skip

    monkeypatch.setattr(run_all, "run_benchmark", rerun)
    before = fake_results()
    kept = {name: dict(entry) for name, entry in before["benchmarks"].items()}

    merged = run_all.merge_run(before, ("latency",))

    assert merged["benchmarks"]["latency"]["data"] == fake_latency()
    assert "date" in merged["benchmarks"]["latency"]
    assert {n: e for n, e in merged["benchmarks"].items() if n != "latency"} == kept
    assert merged["date"] == "2026-01-01 00:00 UTC"  # the report's own run is unchanged
