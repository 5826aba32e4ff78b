"""The one-shot commands: ``db``, ``cache``, ``queue``, ``upload``, ``download`` and ``chat``.

Each is an ``async def`` taking the parsed arguments and the terminal; ``register`` adds its
parser. Values given on the command line are JSON when they parse as JSON (``5``, ``true``,
``{"a": 1}``) and plain strings otherwise (``alice``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.from_thread
import msgspec

from .._options import Timeout
from ..models.ai import ChatMessage
from ._connection import add_connection_arguments, open_client
from ._output import CLIError, Output, format_value
from ._runner import EXIT_INTERRUPTED

__all__ = ["parse_value", "register"]

# A big upload or download may take longer than the client's two-minute call deadline.
UNBOUNDED = Timeout(total=None)


def parse_value(text: str) -> Any:
    """``text`` as JSON if it is JSON, else the string itself."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise CLIError(f"{what} is not valid JSON: {exc}", exit_code=2) from None
    if not isinstance(value, dict):
        raise CLIError(f'{what} must be a JSON object, like \'{{"to": "ada"}}\'', 2)
    return value


# -- db --------------------------------------------------------------------------------------


async def db(args: argparse.Namespace, out: Output) -> None:
    """Run one SQL statement and print its rows as a table."""
    params = [parse_value(p) for p in args.param]
    async with open_client(args) as client:
        result = await client.database.query(args.sql, params or None)
    if args.json:
        out.raw(format_value(result.results) + "\n")
    elif result.results:
        out.table(result.results, caption=_plural(result.count, "row"))
    else:
        out.print(f"OK, {_plural(result.count, 'row')} changed")


# -- cache -----------------------------------------------------------------------------------


async def cache_get(args: argparse.Namespace, out: Output) -> int:
    """Print the value under a key as JSON; exit status 1 if there is none."""
    async with open_client(args) as client:
        answer = await client.cache.get(args.key)
    if not answer.exists:
        out.note(f"(no value under {args.key!r})")
        return 1
    out.raw(format_value(answer.value) + "\n")
    return 0


async def cache_set(args: argparse.Namespace, out: Output) -> None:
    """Store a value (JSON, or a plain string) under a key."""
    value = parse_value(args.value)
    async with open_client(args) as client:
        await client.cache.set(args.key, value, ttl=args.ttl)
    expiry = f", expires in {args.ttl} s" if args.ttl else ""
    out.print(f"set {args.key!r} = {format_value(value)}{expiry}", markup=False)


# -- queue -----------------------------------------------------------------------------------


async def queue_enqueue(args: argparse.Namespace, out: Output) -> None:
    """Enqueue one job and print its id."""
    data = _json_object(args.data, "the job data")
    async with open_client(args) as client:
        result = await client.queue.enqueue(args.type, data, delay=args.delay)
    out.raw(result.job_id + "\n")


async def queue_jobs(args: argparse.Namespace, out: Output) -> None:
    """List jobs (newest pages first as the server orders them) with a count per status."""
    rows: list[dict[str, Any]] = []
    async with open_client(args) as client:
        async for job in client.queue.list_jobs(
            status=args.status, type=args.type, limit=min(args.limit, 200)
        ):
            rows.append(
                {
                    "id": job.id,
                    "type": job.type,
                    "status": job.status,
                    "created": f"{job.created_at:%Y-%m-%d %H:%M:%S}" if job.created_at else None,
                    "data": _shorten(format_value(job.data), 40),
                }
            )
            if len(rows) >= args.limit:
                break
    counts = Counter(row["status"] for row in rows)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    out.table(rows, columns=["id", "type", "status", "created", "data"], caption=summary or None)


# -- storage ---------------------------------------------------------------------------------


async def upload(args: argparse.Namespace, out: Output) -> None:
    """Upload a file with a progress bar and print its URL."""
    path = anyio.Path(args.path)
    key = args.key or path.name
    if not await path.is_file():
        raise CLIError(f"not a file: {path}", exit_code=2)
    size = (await path.stat()).st_size
    async with open_client(args) as client:
        with out.progress() as bar:
            task = bar.add_task(f"upload {key}", total=size)
            result = await client.storage.upload(
                key,
                str(path),
                content_type=args.content_type,
                on_progress=lambda sent, total: bar.update(task, completed=sent, total=total),
                timeout=UNBOUNDED,
            )
    out.print(result.url, markup=False)


async def download(args: argparse.Namespace, out: Output) -> None:
    """Download an object to a file with a progress bar."""
    target = anyio.Path(args.path or args.key.rsplit("/", 1)[-1])
    if await target.is_dir():
        target = target / args.key.rsplit("/", 1)[-1]
    async with (
        open_client(args) as client,
        client.storage.download(args.key, timeout=UNBOUNDED) as body,
    ):
        with out.progress() as bar:
            task = bar.add_task(f"download {args.key}", total=body.size)
            written = await body.save(
                target, on_progress=lambda done, total: bar.update(task, completed=done)
            )
    out.print(f"saved {_plural(written, 'byte')} to {target}", markup=False)


# -- chat ------------------------------------------------------------------------------------


async def chat(args: argparse.Namespace, out: Output) -> int | None:
    """Stream replies token by token: one ``--message``, or each line read from stdin.

    At a terminal, Ctrl-C stops the reply in progress and returns to the prompt; Ctrl-C at
    the prompt, or Ctrl-D, leaves.
    """
    history: list[ChatMessage] = []
    if args.system:
        history.append(ChatMessage(role="system", content=args.system))
    interactive = args.message is None and sys.stdin.isatty()
    async with open_client(args) as client:

        async def turn(text: str) -> None:
            history.append(ChatMessage(role="user", content=text))
            shown: list[str] = []
            try:
                if interactive:
                    out.print("[bold]ai>[/bold] ", end="")
                async with client.ai.chat_stream(
                    history, model=args.model, max_tokens=args.max_tokens
                ) as stream:
                    async for token in stream.text_stream:
                        shown.append(token)
                        out.raw(token)
            finally:
                # A reply stopped half-way stays in the conversation as far as it was shown,
                # so the next question follows what the user saw.
                if shown:
                    history.append(ChatMessage(role="assistant", content="".join(shown)))
                else:
                    history.pop()
                out.raw("\n")

        if args.message is not None:
            await turn(args.message)
            return None
        if interactive:
            return await _converse(turn, out)
        async with _StdinLines() as lines:
            while (line := await lines.receive()) is not None:
                if line.strip():
                    await turn(line.rstrip("\n"))
        return None


async def _converse(turn: Callable[[str], Awaitable[None]], out: Output) -> int | None:
    """The prompt loop at a terminal; EXIT_INTERRUPTED if Ctrl-C at the prompt ended it."""
    out.print(
        "[dim]Type a message and press Enter. Ctrl-C stops a reply; "
        "Ctrl-C at the prompt or Ctrl-D quits.[/dim]"
    )
    ctrl_c = _CtrlC()
    with _sigint_receiver() as signals:
        async with anyio.create_task_group() as session, _StdinLines() as lines:
            if signals is not None:
                session.start_soon(ctrl_c.watch, signals, session.cancel_scope)
            while True:
                out.raw("you> ")
                line = await lines.receive()
                if line is None:
                    break
                if not line.strip():
                    continue
                with anyio.CancelScope() as reply:
                    ctrl_c.reply = reply
                    await turn(line.rstrip("\n"))
                ctrl_c.reply = None
                if reply.cancelled_caught:
                    out.note("(reply stopped)")
            session.cancel_scope.cancel()
    out.raw("\n")
    return EXIT_INTERRUPTED if ctrl_c.left else None


class _CtrlC:
    """What Ctrl-C means in a chat: stop the reply in progress, or leave if there is none."""

    def __init__(self) -> None:
        self.reply: anyio.CancelScope | None = None
        self.left = False

    async def watch(self, signals: AsyncIterator[int], session: anyio.CancelScope) -> None:
        """Act on each SIGINT until the session ends."""
        async for _ in signals:
            if self.reply is not None:
                self.reply.cancel()
            else:
                self.left = True
                session.cancel()


@contextmanager
def _sigint_receiver() -> Iterator[AsyncIterator[int] | None]:
    """SIGINT as an async iterator instead of KeyboardInterrupt; None where unsupported."""
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT)
        signals = receiver.__enter__()
    except (NotImplementedError, RuntimeError, ValueError):  # Windows; not the main thread
        yield None
        return
    try:
        yield signals
    finally:
        receiver.__exit__(None, None, None)


class _StdinLines:
    """Lines of stdin read by a daemon thread, so Ctrl-C at the prompt exits at once."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[str | None](1)
        self._portal = anyio.from_thread.BlockingPortal()

    async def __aenter__(self) -> _StdinLines:
        portal = await self._portal.__aenter__()

        def pump() -> None:
            try:
                while True:
                    line = sys.stdin.readline()
                    portal.call(self._send.send, line or None)
                    if not line:
                        return
            except Exception:  # noqa: S110 (the portal closed: nobody wants more lines)
                pass

        # Not an anyio worker thread: those are joined at exit, and readline() cannot be
        # interrupted, so Ctrl-C at the prompt would hang until Enter.
        threading.Thread(target=pump, name="aerostack-stdin", daemon=True).start()
        return self

    async def receive(self) -> str | None:
        """The next line (with its newline), or None at end of input."""
        return await self._receive.receive()

    async def __aexit__(self, *exc_info: object) -> None:
        self._receive.close()
        self._send.close()
        await self._portal.__aexit__(None, None, None)


# -- helpers ---------------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(commands: Any) -> None:
    """Add the one-shot commands to the ``aerostack-async`` subcommand parsers."""
    connection = argparse.ArgumentParser(add_help=False)
    add_connection_arguments(connection)

    p = commands.add_parser(
        "db", parents=[connection], help="run one SQL statement and print its rows"
    )
    p.add_argument("sql", help='the statement, e.g. "SELECT * FROM users WHERE id = ?"')
    p.add_argument(
        "--param", "-p", action="append", default=[], metavar="VALUE",
        help="a positional ? value (JSON, or a string); repeat in order",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(handler=db)

    p = commands.add_parser("cache", help="get or set a cache value")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = actions.add_parser("get", parents=[connection], help="print the value under KEY")
    get.add_argument("key")
    get.set_defaults(handler=cache_get)
    put = actions.add_parser("set", parents=[connection], help="store VALUE under KEY")
    put.add_argument("key")
    put.add_argument("value", help="JSON, or a plain string")
    put.add_argument("--ttl", type=_non_negative, help="seconds until it expires")
    put.set_defaults(handler=cache_set)

    p = commands.add_parser("queue", help="enqueue a job or list jobs")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    enqueue = actions.add_parser("enqueue", parents=[connection], help="enqueue one job")
    enqueue.add_argument("type", help="the job type, e.g. send-email")
    enqueue.add_argument("data", help='the job data, a JSON object, e.g. \'{"to": "ada"}\'')
    enqueue.add_argument("--delay", type=_non_negative, help="seconds before it is due")
    enqueue.set_defaults(handler=queue_enqueue)
    jobs = actions.add_parser("jobs", parents=[connection], help="list jobs as a table")
    jobs.add_argument(
        "--status", choices=["queued", "processing", "completed", "failed", "cancelled"]
    )
    jobs.add_argument("--type", help="only jobs of this type")
    jobs.add_argument("--limit", type=_positive, default=50, help="at most this many (50)")
    jobs.set_defaults(handler=queue_jobs)

    p = commands.add_parser(
        "upload", parents=[connection], help="upload a file, with a progress bar"
    )
    p.add_argument("path", help="the file to upload")
    p.add_argument("key", nargs="?", help="the storage key (default: the file's name)")
    p.add_argument("--content-type", help="media type (default: guessed from the key)")
    p.set_defaults(handler=upload)

    p = commands.add_parser(
        "download", parents=[connection], help="download an object, with a progress bar"
    )
    p.add_argument("key", help="the storage key")
    p.add_argument("path", nargs="?", help="where to save it (default: the key's last segment)")
    p.set_defaults(handler=download)

    p = commands.add_parser(
        "chat", parents=[connection], help="chat with the project's model, streaming"
    )
    p.add_argument("--message", "-m", help="send one message, print the reply and exit")
    p.add_argument("--system", help="a system prompt")
    p.add_argument("--model", help="the model (default: the server's)")
    p.add_argument("--max-tokens", type=_positive, help="longest reply, in tokens")
    p.set_defaults(handler=chat)
