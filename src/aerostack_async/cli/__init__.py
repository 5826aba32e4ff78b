"""The ``aerostack-async`` command: the emulator (``serve``), a guided ``demo``, and one-shot
commands for the database, cache, queue, storage and chat.

Only ``serve`` works without the ``cli`` extra (rich); the others print a one-line hint
when it is missing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from .._version import __version__

__all__ = ["build_parser", "main"]


def _server_cli() -> ModuleType | None:
    try:
        from ..server import _cli
    except ImportError:  # the 'server' extra is not installed
        return None
    return _cli


def build_parser(server_cli: ModuleType | None) -> argparse.ArgumentParser:
    """The parser of every subcommand (``serve``'s flags only if the emulator is installed)."""
    from . import _commands, _demo

    parser = argparse.ArgumentParser(
        prog="aerostack-async",
        description="Aerostack Platform API client and local emulator.",
        epilog="Run 'aerostack-async demo' for a tour of the whole API on a local emulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the local emulator (needs the 'server' extra)")
    if server_cli is not None:
        server_cli.add_arguments(serve)
    _demo.register(commands)
    _commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``aerostack-async`` command; exits non-zero on failure."""
    server_cli = _server_cli()
    args = build_parser(server_cli).parse_args(argv)
    if args.command == "serve":
        if server_cli is None:
            print(
                "error: the emulator needs: pip install 'aerostack-async[server]'", file=sys.stderr
            )
            raise SystemExit(2)
        server_cli.serve(server_cli.config_from_args(args))
        return
    from ._runner import run_command

    status = run_command(args.handler, args)
    if status:
        raise SystemExit(status)
