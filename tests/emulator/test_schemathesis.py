"""schemathesis, driven by the vendor's OpenAPI 1.0.0 document, against a running emulator.

Checks: ``not_a_server_error`` (no 5xx) and ``response_schema_conformance`` (every documented
response matches the document's schema). One documented patch is applied first: the
document's ``ErrorResponse.code`` enum lacks codes API.md defines (``AUTH_USER_EXISTS`` for a
409 sign-up, for one), and API.md wins where the two differ, so those codes are added. A small,
seeded run keeps CI fast; ``benchmarks/schemathesis_check.py`` runs the unpatched document
with many more examples.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from aerostack_async.testing import run_emulator

# A byte-for-byte copy of the vendor's document, so the check runs from a clean clone.
VENDOR_DOCUMENT = Path(__file__).parent / "data" / "aerostack-openapi-1.0.0.yaml"
API_MD_CODES = ["AUTH_USER_EXISTS", "FORBIDDEN", "NOT_FOUND"]


def patched_document(target: Path) -> Path:
    document: dict[str, Any] = yaml.safe_load(VENDOR_DOCUMENT.read_text())
    enum = document["components"]["schemas"]["ErrorResponse"]["properties"]["code"]["enum"]
    enum.extend(code for code in API_MD_CODES if code not in enum)
    target.write_text(yaml.safe_dump(document))
    return target


def test_vendor_document_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    schema = patched_document(tmp_path / "openapi.yaml")
    with run_emulator("--ai-token-delay-ms", "0") as emulator:
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", str(schema),
            "--url", emulator.base_url,
            "--header", f"X-Aerostack-Key: {emulator.api_key}",
            "--checks", "not_a_server_error,response_schema_conformance",
            "--max-examples", "8", "--seed", "20261128", "--workers", "1",
            "--no-color", "--report-dir", str(tmp_path / "report"),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        log = emulator.log()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:] + log[-4000:]
