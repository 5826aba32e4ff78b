"""Every script in ``examples/`` runs against the emulator and prints what it promises.

The scripts and their expected output live in ``tests/_programs.py``, shared with the wheel's
test, which runs the same scripts from an installed wheel.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator

import pytest

from aerostack_async.testing import Emulator

from .._programs import EXAMPLES, EXPECTED, Run, start_examples


@pytest.fixture(scope="module")
def runs(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every example started at once (they are independent), each in its own folder."""
    folders = (tmp_path_factory.mktemp(f"example{n}") for n in itertools.count())
    with start_examples(sys.executable, emulator.base_url, emulator.api_key, folders) as started:
        yield started


def test_every_example_has_expectations() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_against_the_emulator(name: str, runs: dict[str, Run]) -> None:
    status, out, err = runs[name].wait()

    assert status == 0, err
    for expected in EXPECTED[name]:
        assert expected in out
