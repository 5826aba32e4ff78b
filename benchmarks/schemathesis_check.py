r"""A long schemathesis run of the vendor's OpenAPI 1.0.0 document against a fresh emulator.

The CI suite runs a small seeded version of this (``tests/emulator/test_schemathesis.py``) on a
document patched with API.md's extra error codes. This script runs the document exactly as the
vendor published it, with many more examples, and prints schemathesis's report:

    .venv/bin/python benchmarks/schemathesis_check.py [--max-examples 300] [--seed N]
    .venv/bin/python benchmarks/schemathesis_check.py --mode positive \
        --checks positive_data_acceptance

Expected with the default checks (``not_a_server_error,response_schema_conformance``): one
finding, ``AUTH_USER_EXISTS`` on a 409 sign-up, which the vendor's ``ErrorResponse.code`` enum
does not list but API.md defines (docs/emulator.md explains).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from aerostack_async.testing import run_emulator

DOCUMENT = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "emulator"
    / "data"
    / "aerostack-openapi-1.0.0.yaml"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checks", default="not_a_server_error,response_schema_conformance")
    parser.add_argument("--mode", default="all", choices=["all", "positive", "negative"])
    args = parser.parse_args()
    with run_emulator("--ai-token-delay-ms", "0") as emulator, tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", str(DOCUMENT),
            "--url", emulator.base_url,
            "--header", f"X-Aerostack-Key: {emulator.api_key}",
            "--checks", args.checks, "--mode", args.mode,
            "--max-examples", str(args.max_examples), "--seed", str(args.seed),
            "--report-dir", str(Path(tmp) / "report"),
        ]  # fmt: skip
        print("$", " ".join(command[2:]), flush=True)
        code = subprocess.run(command, cwd=tmp, check=False).returncode
    sys.exit(code)


if __name__ == "__main__":
    main()
