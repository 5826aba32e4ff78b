"""The ``aerostack-async`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType


def _server_cli() -> ModuleType | None:
    try:
        from ..server import _cli
    except ImportError:  # the 'server' extra is not installed
        return None
    return _cli


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``aerostack-async`` command."""
    parser = argparse.ArgumentParser(
        prog="aerostack-async", description="Aerostack Platform API client and local emulator."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the local emulator (needs the 'server' extra)")
    server_cli = _server_cli()
    if server_cli is not None:
        server_cli.add_arguments(serve)
    args = parser.parse_args(argv)
    if args.command == "serve":
        if server_cli is None:
            print(
                "error: the emulator needs: pip install 'aerostack-async[server]'", file=sys.stderr
            )
            raise SystemExit(2)
        server_cli.serve(server_cli.config_from_args(args))
