"""``aerostack-async serve`` / ``python -m aerostack_async.server``: run the emulator."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from ._config import DEFAULT_API_KEY, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PUBLIC_KEY, ServerConfig


def _service(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("expected NAME=http(s)://URL")
    return name, url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's flags to ``parser``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8787, help="port (default: 8787; 0 = any free)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".aerostack"), help="where data lives (./.aerostack)"
    )
    parser.add_argument("--memory", action="store_true", help="throw-away store, deleted at exit")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the secret key (sk_…)")
    parser.add_argument(
        "--public-key", default=DEFAULT_PUBLIC_KEY, help="the public key (pk_…); '' disables it"
    )
    parser.add_argument("--ai-upstream", help="forward /ai/chat to this OpenAI-compatible base URL")
    parser.add_argument(
        "--ai-token-delay-ms", type=float, default=15.0, help="pause between streamed tokens"
    )
    parser.add_argument(
        "--rate-limit", type=float, help="requests per second per key (429 + Retry-After past it)"
    )
    parser.add_argument(
        "--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES, help="413 past this"
    )
    parser.add_argument(
        "--service",
        type=_service,
        action="append",
        default=[],
        metavar="NAME=URL",
        help="forward /services/invoke of NAME to URL (repeatable)",
    )
    parser.add_argument("--queue-consumer", help="POST due jobs to this URL")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--single-project",
        action="store_true",
        help="accept only --api-key/--public-key (no sk_local_<name> keys minting projects)",
    )


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The `ServerConfig` described by parsed flags."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        memory=args.memory,
        api_key=args.api_key,
        public_key=args.public_key or None,
        ai_upstream=args.ai_upstream,
        ai_token_delay_ms=args.ai_token_delay_ms,
        rate_limit=args.rate_limit,
        max_upload_bytes=args.max_upload_bytes,
        services=dict(args.service),
        queue_consumer=args.queue_consumer,
        access_log=args.access_log,
        projects=not args.single_project,
    )


def serve(config: ServerConfig) -> None:
    """Bind, print where the emulator listens, and serve until interrupted."""
    import dataclasses

    import uvicorn

    from ._app import create_app

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        print(
            f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr
        )
        raise SystemExit(1) from None
    sock.listen(2048)
    config = dataclasses.replace(config, port=sock.getsockname()[1])
    app = create_app(config)
    state = app.state.emulator
    projects_line = (
        "any sk_local_<name> / pk_local_<name> key pair mints project <name>"
        if config.projects
        else "only the keys above (--single-project)"
    )
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {config.host}, beyond loopback", file=sys.stderr)
    print(
        f"Aerostack emulator listening on {config.base_url}\n"
        f"  secret key: {config.api_key}\n"
        f"  public key: {config.public_key or '(disabled)'}\n"
        f"  projects: {projects_line}\n"
        f"  data: {'in memory (discarded at exit)' if config.memory else state.data_dir}",
        flush=True,
    )
    if config.access_log:
        # The emulator's own request lines (with the caller's traceparent) beside uvicorn's.
        import logging

        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        server_logger = logging.getLogger("aerostack_async.server")
        server_logger.addHandler(handler)
        server_logger.setLevel(logging.INFO)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="info" if config.access_log else "warning",
            access_log=config.access_log,
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
    )
    server.run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m aerostack_async.server``."""
    parser = argparse.ArgumentParser(
        prog="aerostack-async serve", description="Run the local Aerostack emulator."
    )
    add_arguments(parser)
    serve(config_from_args(parser.parse_args(argv)))
