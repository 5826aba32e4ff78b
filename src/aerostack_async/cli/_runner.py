"""Run one command's coroutine with ``anyio.run`` and turn every failure into one line.

A user of the command never sees a traceback: our errors, OS errors (a missing file, a full
disk) and Ctrl-C each print ``error: ...`` on stderr and give a non-zero exit status.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import anyio

from ..errors import (
    AerostackError,
    APIConnectionError,
    AuthenticationError,
    BatchError,
    ConfigurationError,
    InvalidRequestError,
    SDKBaseError,
)
from ._connection import LOOPBACK
from ._output import CLIError, Output, print_error

__all__ = ["EXIT_INTERRUPTED", "Handler", "describe", "run_command"]

EXIT_INTERRUPTED = 130  # what shells report for a process ended by SIGINT

Handler = Callable[[argparse.Namespace, Output], Awaitable[int | None]]
"""A command: its parsed arguments and the terminal in, an exit status (None = 0) out."""


def _leaf(exc: BaseException) -> BaseException:
    # A task group wraps what its tasks raised in an exception group (the builtin, or the
    # backport before 3.11: both have .exceptions); the user wants the first real cause.
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _refused(exc: BaseException) -> bool:
    # The refusal sits at the bottom of the chain our error was raised from (our pool and
    # httpx's transport both keep it there).
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _refused_hint(base_url: str | None) -> str:
    parts = urlsplit(base_url or "")
    if parts.hostname in LOOPBACK:
        port = f" on port {parts.port}" if parts.port else ""
        return f"is `aerostack-async serve` running{port}?"
    return "check the host and port of the base URL"


def _lacks_v1(base_url: str | None) -> bool:
    return base_url is not None and not urlsplit(base_url).path.rstrip("/").endswith("/v1")


def describe(exc: BaseException, base_url: str | None = None) -> str:
    """The one line that explains ``exc`` and, where we can tell, how to fix it.

    Never the API key: our messages do not carry it.
    """
    if isinstance(exc, BatchError) and isinstance(exc.cause, AerostackError):
        return f"item {exc.index}: {describe(exc.cause, base_url)}"
    if isinstance(exc, APIConnectionError):
        server = base_url or "the server"
        if _refused(exc):
            return f"no response from {server}: connection refused; {_refused_hint(base_url)}"
        return f"no response from {server}: {exc}"
    if isinstance(exc, SDKBaseError) and exc.status_code in (404, 405) and _lacks_v1(base_url):
        # Every API path lives under /v1: a base URL without it finds no route at all.
        return f"{exc}; the base URL {base_url} does not end in /v1 (try {base_url}/v1)"
    if isinstance(exc, AuthenticationError):
        return f"{exc}; check --api-key or AEROSTACK_API_KEY"
    if isinstance(exc, OSError) and exc.strerror:
        target = exc.filename if exc.filename is not None else None
        return f"{exc.strerror}: {target}" if target is not None else exc.strerror
    return str(exc) or type(exc).__name__


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run ``handler`` to completion; the exit status (errors already printed)."""
    # stamina logs each retry it schedules; a command reports only the final outcome.
    logging.getLogger("stamina").addHandler(logging.NullHandler())
    logging.getLogger("stamina").propagate = False
    try:
        output = Output()
        status = anyio.run(handler, args, output)
    except BaseException as raised:  # sorted out just below; anything else is re-raised
        exc = _leaf(raised)
        if isinstance(exc, KeyboardInterrupt):
            print_error("interrupted")
            return EXIT_INTERRUPTED
        if isinstance(exc, CLIError):
            print_error(str(exc))
            return exc.exit_code
        if isinstance(exc, (InvalidRequestError, ConfigurationError)):
            print_error(describe(exc))  # refused before anything was sent: a usage error
            return 2
        if isinstance(exc, (AerostackError, OSError)):
            print_error(describe(exc, getattr(args, "resolved_base_url", None)))
            return 1
        raise
    return status or 0
