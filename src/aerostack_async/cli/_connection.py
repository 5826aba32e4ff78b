"""Which server and key a command uses: flags, then environment variables, then defaults.

The base URL is ``--base-url``, else ``--environment``, else ``AEROSTACK_BASE_URL``, else
production. The key is ``--api-key``, else ``AEROSTACK_API_KEY``; a local server (the
``local`` environment or a loopback URL) falls back to the emulator's default key, so
``--environment local`` works against ``aerostack-async serve`` with no set-up.
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlsplit

from .._client import ENVIRONMENTS, AsyncAerostack
from .._constants import EMULATOR_API_KEY
from ._output import CLIError

__all__ = [
    "EMULATOR_KEY",
    "LOOPBACK",
    "add_connection_arguments",
    "open_client",
    "resolve_api_key",
    "resolve_base_url",
]

EMULATOR_KEY = EMULATOR_API_KEY

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names that mean this machine (where ``aerostack-async serve`` runs)."""


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base-url``, ``--api-key`` and ``--environment``."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--base-url", metavar="URL", help="API base URL ending in /v1 (env: AEROSTACK_BASE_URL)"
    )
    group.add_argument(
        "--api-key", metavar="KEY", help="project key (env: AEROSTACK_API_KEY)", default=None
    )
    group.add_argument(
        "--environment",
        choices=sorted(ENVIRONMENTS),
        help="a named server: 'local' is the emulator on http://localhost:8787/v1",
    )


def resolve_base_url(args: argparse.Namespace) -> str:
    """The base URL the flags and environment ask for."""
    if args.base_url:
        return str(args.base_url).rstrip("/")
    if args.environment:
        return ENVIRONMENTS[args.environment]
    return (os.environ.get("AEROSTACK_BASE_URL") or ENVIRONMENTS["production"]).rstrip("/")


def resolve_api_key(args: argparse.Namespace, base_url: str) -> str:
    """The key the flags and environment ask for, or the emulator's for a local server."""
    key = args.api_key or os.environ.get("AEROSTACK_API_KEY")
    if key:
        return str(key)
    if urlsplit(base_url).hostname in LOOPBACK:
        return EMULATOR_KEY
    raise CLIError("no API key: pass --api-key or set AEROSTACK_API_KEY", exit_code=2)


def open_client(args: argparse.Namespace) -> AsyncAerostack:
    """A client for the server and key the arguments describe (the caller closes it)."""
    base_url = resolve_base_url(args)
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise CLIError(f"the base URL must start with http:// or https://: {base_url}", 2)
    args.resolved_base_url = base_url  # for error messages: "no response from <url>"
    return AsyncAerostack(api_key=resolve_api_key(args, base_url), base_url=base_url)
