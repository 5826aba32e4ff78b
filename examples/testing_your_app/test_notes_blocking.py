"""The blocking client's fixture: ``aerostack``, on a project of the test's own."""

from __future__ import annotations

import notes

from aerostack_async import Aerostack


def test_blocking_code_gets_a_clean_project_too(aerostack: Aerostack) -> None:
    assert notes.add_note_blocking(aerostack, "first") == 1
    assert notes.add_note_blocking(aerostack, "second") == 2


def test_and_so_does_the_next_test(aerostack: Aerostack) -> None:
    assert notes.add_note_blocking(aerostack, "first") == 1
