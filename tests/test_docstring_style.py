"""Docstrings are in the one style the docs site renders (mkdocstrings, google style).

Sphinx roles (``:class:`X```) and ``::`` literal-block markers show up raw on the rendered
reference, so none may come back.
"""

from __future__ import annotations

import re
from pathlib import Path

import aerostack_async

SRC = Path(aerostack_async.__file__).parent
SPHINX = re.compile(r"(?m):(?:class|meth|func|attr|exc|mod|data|obj|const):`|^\s+\S.*::$")


def test_no_sphinx_markup_in_docstrings() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{text[: match.start()].count(chr(10)) + 1}"
        for path in sorted(SRC.rglob("*.py*"))
        if path.suffix in (".py", ".pyi")
        for text in [path.read_text(encoding="utf-8")]
        for match in SPHINX.finditer(text)
    ]
    assert offenders == []
