"""``aerostack-async demo``: a tour of the whole API, timed step by step.

Unless ``--base-url`` or ``--environment`` is given, the demo starts its own emulator on a free
port (throw-away store) and stops it at the end; it ignores ``AEROSTACK_BASE_URL`` so that it
never writes into a configured project by accident. Each step prints what it did and how long
it took; a summary table ends the run. Everything the demo creates carries a run id, and the
cache keys, the table and the stored file are removed again.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .._client import AsyncAerostack
from .._options import Timeout
from ..batching import map_concurrently
from ._connection import add_connection_arguments, resolve_api_key, resolve_base_url
from ._output import CLIError, Output

__all__ = ["register"]

MIB = 1 << 20
CHUNK = MIB
CHAT_PROMPT = "In two sentences: why stream a chat reply token by token?"
# The 256 MiB transfer may outlast the client's default two-minute deadline on a slow disk.
UNBOUNDED = Timeout(total=None)

PLANETS = [
    ("Mercury", 0, 2440, False),
    ("Venus", 0, 6052, False),
    ("Earth", 1, 6371, False),
    ("Mars", 2, 3390, False),
    ("Jupiter", 95, 69911, True),
    ("Saturn", 146, 58232, True),
    ("Uranus", 28, 25362, True),
    ("Neptune", 16, 24622, True),
]


@dataclass
class Step:
    """One timed step of the tour."""

    name: str
    seconds: float = 0.0
    result: str = ""
    rate: str = ""


@dataclass
class Tour:
    """The demo's state: the client, the terminal, the run id and the steps timed so far."""

    client: AsyncAerostack
    out: Output
    args: argparse.Namespace
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    steps: list[Step] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Time the body as one step, announced by a heading."""
        self.out.print(f"\n[bold cyan]▶ {name}[/bold cyan]")
        step = Step(name)
        started = time.perf_counter()
        yield step
        step.seconds = time.perf_counter() - started
        self.steps.append(step)
        self.out.print(f"  [green]✓[/green] {step.result} [dim]({step.seconds:.2f} s)[/dim]")


def _per_second(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else ""


# -- the steps -------------------------------------------------------------------------------


async def sign_up_and_in(tour: Tour) -> None:
    """Create a user and sign in as them."""
    email = f"ada-{tour.run_id}@example.com"
    password = secrets.token_urlsafe(12)
    with tour.step("auth: sign up and sign in") as step:
        session = await tour.client.authentication.sign_up(email, password, name="Ada Lovelace")
        again = await tour.client.authentication.sign_in(email, password)
        assert again.user.id == session.user.id
        expires = again.expires_at.isoformat(timespec="minutes") if again.expires_at else "?"
        step.result = f"user {session.user.email} ({session.user.id[:8]}…), token until {expires}"


async def database(tour: Tour) -> None:
    """Create a table, fill it in one transaction and print a query as a table."""
    table = f"planets_{tour.run_id}"
    with tour.step("database: create a table and query it") as step:
        values = ", ".join("(?, ?, ?, ?)" for _ in PLANETS)
        params = [value for planet in PLANETS for value in planet]
        await tour.client.database.batch(
            [
                f"CREATE TABLE {table} (name TEXT PRIMARY KEY, moons INTEGER,"
                " radius_km INTEGER, ringed BOOLEAN)",
                {"sql": f"INSERT INTO {table} VALUES {values}", "params": params},
            ]
        )
        result = await tour.client.database.query(
            f"SELECT name, moons, radius_km, ringed FROM {table}"
            " WHERE radius_km > ? ORDER BY radius_km DESC",
            [3000],
        )
        tour.out.table(result.results, title="  planets with radius_km > 3000")
        await tour.client.database.query(f"DROP TABLE {table}")
        step.result = f"{len(PLANETS)} rows inserted, {result.count} returned, table dropped"


async def cache(tour: Tour) -> None:
    """Write and read back many keys with ``set_many`` / ``get_many``."""
    count = tour.args.keys
    prefix = f"demo:{tour.run_id}:"
    keys = [f"{prefix}{n:06d}" for n in range(count)]
    with tour.step(f"cache: set_many {count:,} keys") as step:
        with tour.out.progress(unit="items") as bar:
            task = bar.add_task("set_many", total=count)
            await tour.client.cache.set_many(
                {key: {"n": n, "square": n * n} for n, key in enumerate(keys)},
                ttl=3600,
                on_progress=lambda done, _total: bar.update(task, completed=done),
            )
        step.result = f"{count:,} keys written, 100 per request"
    step.rate = _per_second(count, step.seconds, "keys")
    with tour.step(f"cache: get_many {count:,} keys") as step:
        with tour.out.progress(unit="items") as bar:
            task = bar.add_task("get_many", total=count)
            values = await tour.client.cache.get_many(
                keys, on_progress=lambda done, _total: bar.update(task, completed=done)
            )
        wrong = sum(
            1
            for n, got in enumerate(values)
            if not got.exists or got.value != {"n": n, "square": n * n}
        )
        if wrong:
            raise CLIError(f"{wrong} of {count} cache values did not read back")
        step.result = f"{count:,} values read back, all equal"
    step.rate = _per_second(count, step.seconds, "keys")
    await tour.client.cache.flush(prefix)


async def queue(tour: Tour) -> None:
    """Enqueue many jobs with ``enqueue_many``, cancel some, count them by status."""
    count = tour.args.jobs
    job_type = f"demo-email-{tour.run_id}"
    jobs = [{"type": job_type, "data": {"to": f"user{n}@example.com"}} for n in range(count)]
    with tour.step(f"queue: enqueue_many {count:,} jobs") as step:
        with tour.out.progress(unit="items") as bar:
            task = bar.add_task("enqueue_many", total=count)
            results = await tour.client.queue.enqueue_many(
                jobs, on_progress=lambda done, _total: bar.update(task, completed=done)
            )
        step.result = f"{len(results):,} jobs enqueued, each with its own idempotency key"
    step.rate = _per_second(count, step.seconds, "jobs")
    with tour.step("queue: cancel every tenth job, count jobs by status") as step:
        doomed = [result.job_id for result in results[::10]]
        await map_concurrently(tour.client.queue.cancel, doomed, concurrency=16)
        statuses: Counter[str] = Counter()
        async for job in tour.client.queue.list_jobs(type=job_type, limit=200):
            statuses[job.status] += 1
        tour.out.table(
            [{"status": status, "jobs": n} for status, n in sorted(statuses.items())],
            title=f"  {job_type} jobs by status",
        )
        step.result = f"{len(doomed):,} cancelled, {sum(statuses.values()):,} listed"


async def _write_test_file(tour: Tour, path: Path, size: int) -> str:
    """Write ``size`` bytes to ``path`` a chunk at a time, never all in memory; their SHA-256.

    One random block, stamped with each chunk's number, so every chunk differs (a reordered
    or repeated chunk changes the checksum) at disk speed rather than os.urandom's.
    """
    digest = hashlib.sha256()
    block = secrets.token_bytes(CHUNK)
    with tour.out.progress() as bar:
        task = bar.add_task("write   ", total=size)
        async with await anyio.open_file(path, "wb") as file:
            written = 0
            for index in itertools.count():
                if written >= size:
                    break
                chunk = (index.to_bytes(8, "big") + block[8:])[: size - written]
                digest.update(chunk)
                await file.write(chunk)
                written += len(chunk)
                bar.update(task, completed=written)
    return digest.hexdigest()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def storage(tour: Tour, folder: Path) -> None:
    """Upload a generated file and download it again, both streamed, and compare checksums."""
    size = tour.args.size_mb * MIB
    source, copy = folder / "upload.bin", folder / "download.bin"
    key = f"demo/{tour.run_id}/random-{tour.args.size_mb}MiB.bin"
    label = f"{tour.args.size_mb:,} MiB"
    with tour.step(f"storage: generate a {label} file") as step:
        expected = await _write_test_file(tour, source, size)
        step.result = f"{source.name} written in 1 MiB chunks, sha256 {expected[:12]}…"
    with tour.step(f"storage: upload {label}") as step:
        with tour.out.progress() as bar:
            task = bar.add_task("upload  ", total=size)
            await tour.client.storage.upload(
                key,
                source,
                on_progress=lambda sent, _total: bar.update(task, completed=sent),
                timeout=UNBOUNDED,
            )
        step.result = f"stored as {key}"
    step.rate = _per_second(size / MIB, step.seconds, "MiB")
    with tour.step(f"storage: download {label} and verify") as step:
        async with tour.client.storage.download(key, timeout=UNBOUNDED) as body:
            with tour.out.progress() as bar:
                task = bar.add_task("download", total=body.size)
                await body.save(
                    copy, on_progress=lambda done, _total: bar.update(task, completed=done)
                )
        actual = await anyio.to_thread.run_sync(_sha256_of, copy)
        if actual != expected:
            raise CLIError(f"checksum mismatch: sent {expected}, got back {actual}")
        step.result = f"sha256 matches ({actual[:12]}…)"
    step.rate = _per_second(size / MIB, step.seconds, "MiB")
    await tour.client.storage.delete(key)


async def chat(tour: Tour) -> None:
    """Stream a chat reply token by token."""
    with tour.step("ai: stream a chat reply") as step:
        tour.out.print(f"  [bold]you>[/bold] {CHAT_PROMPT}\n  [bold]ai>[/bold] ", end="")
        tokens = 0
        first: float | None = None
        started = time.perf_counter()
        async with tour.client.ai.chat_stream(CHAT_PROMPT, include_usage=True) as stream:
            async for text in stream.text_stream:
                if first is None:
                    first = time.perf_counter() - started
                tokens += 1
                tour.out.raw(text)
            final = await stream.get_final_message()
        tour.out.raw("\n")
        usage = final.usage.completion_tokens if final.usage is not None else tokens
        ttft = f", first after {first * 1000:.0f} ms" if first is not None else ""
        step.result = f"{usage} tokens streamed{ttft}"
    step.rate = _per_second(tokens, step.seconds, "tokens")


# -- the command -----------------------------------------------------------------------------


@asynccontextmanager
async def _server(tour_args: argparse.Namespace, out: Output) -> AsyncIterator[tuple[str, str]]:
    """The base URL and key to tour: the one asked for, or a fresh emulator's."""
    if tour_args.base_url or tour_args.environment:
        base_url = resolve_base_url(tour_args)
        yield base_url, resolve_api_key(tour_args, base_url)
        return
    try:
        from ..testing import start_emulator
    except ImportError:  # pragma: no cover - testing.py only needs the standard library
        raise CLIError("cannot start an emulator here; pass --base-url") from None
    try:
        import uvicorn  # noqa: F401 (only checking that the 'server' extra is there)
    except ImportError:
        raise CLIError(
            "the demo starts an emulator, which needs: pip install 'aerostack-async[server]'"
            " (or pass --base-url URL of a running one)",
            exit_code=2,
        ) from None
    started = time.perf_counter()
    # Shielded: once the process exists it must be stopped, even if Ctrl-C came meanwhile.
    with anyio.CancelScope(shield=True):
        emulator = await anyio.to_thread.run_sync(start_emulator)
    try:
        out.print(
            f"[dim]Started an emulator at {emulator.base_url} (in-memory store) in"
            f" {time.perf_counter() - started:.1f} s[/dim]"
        )
        yield emulator.base_url, emulator.api_key
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(emulator.stop)
        emulator.log_path.unlink(missing_ok=True)


async def demo(args: argparse.Namespace, out: Output) -> None:
    """Tour the API: auth, database, cache, queue, storage and streaming chat."""
    async with AsyncExitStack() as stack:
        base_url, api_key = await stack.enter_async_context(_server(args, out))
        client = await stack.enter_async_context(AsyncAerostack(api_key=api_key, base_url=base_url))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aerostack-demo-")))
        tour = Tour(client, out, args)
        out.print(f"[bold]Aerostack demo[/bold] against {base_url} (run {tour.run_id})")
        total = time.perf_counter()
        await sign_up_and_in(tour)
        await database(tour)
        await cache(tour)
        await queue(tour)
        await storage(tour, folder)
        await chat(tour)
        total = time.perf_counter() - total
    rows: list[dict[str, Any]] = [
        {"step": s.name, "took": f"{s.seconds:.2f} s", "rate": s.rate} for s in tour.steps
    ]
    out.print()
    out.table(rows, title="Summary", caption=f"all steps: {total:.1f} s")


def _size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(commands: Any) -> None:
    """Add ``demo`` to the subcommand parsers."""
    p = commands.add_parser(
        "demo",
        help="tour the whole API on a local emulator, with timings",
        description="Tour the API: auth, database, cache, queue, a big upload and download,"
        " and a streamed chat. Starts its own emulator unless --base-url or --environment"
        " is given.",
    )
    add_connection_arguments(p)
    p.add_argument(
        "--size-mb", type=_size, default=256, help="size of the uploaded file in MiB (256)"
    )
    p.add_argument("--keys", type=_size, default=10_000, help="cache keys to set and get (10000)")
    p.add_argument("--jobs", type=_size, default=1_000, help="jobs to enqueue (1000)")
    p.set_defaults(handler=demo)
