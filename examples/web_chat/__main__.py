"""``python -m examples.web_chat [--host H] [--port P]``: serve the chat page with uvicorn."""

import argparse

import uvicorn

from .app import app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.web_chat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    args = parser.parse_args()
    print(f"chat page on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
