"""What the command prints: rich tables and progress bars on stdout, one-line errors on stderr.

rich is the ``cli`` extra, imported only when a client command runs, so ``serve`` works
without it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["CLIError", "Output", "format_value", "print_error"]

RICH_HINT = "this command needs rich: pip install 'aerostack-async[cli]'"


class CLIError(Exception):
    """A failure the command reports as one line, with its exit status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_error(message: str) -> None:
    """The one line a failure prints (plain text, so it works without rich)."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def format_value(value: Any) -> str:
    """A JSON value as compact JSON text (strings quoted, so ``"5"`` and ``5`` differ)."""
    return msgspec.json.encode(value).decode()


def _cell(value: Any) -> str:
    # Strings print bare in a table; everything else as the JSON it came as.
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    return format_value(value)


class Output:
    """The terminal: ``print`` for text, ``table`` for rows, ``progress`` for bars."""

    def __init__(self) -> None:
        try:
            from rich.console import Console
        except ImportError:
            raise CLIError(RICH_HINT, exit_code=2) from None
        # highlight=False: rich would otherwise colour numbers and quotes inside our text.
        self.console: Console = Console(highlight=False)
        self.notes: Console = Console(highlight=False, stderr=True)

    def print(self, *objects: Any, **options: Any) -> None:
        """Print text (rich markup allowed) or any rich renderable."""
        self.console.print(*objects, **options)

    def note(self, text: str) -> None:
        """A remark for the person at the terminal, on stderr (stdout stays pipeable)."""
        self.notes.print(text, style="dim", markup=False)

    def raw(self, text: str) -> None:
        """Write text as is, with no newline or markup: streamed tokens."""
        self.console.file.write(text)
        self.console.file.flush()

    def table(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        columns: Sequence[str] | None = None,
        title: str | None = None,
        caption: str | None = None,
    ) -> None:
        """Rows of dicts as a table; the columns are the keys in order of first appearance."""
        from rich.table import Table

        rows = list(rows)
        if columns is None:
            names: dict[str, None] = {}
            for row in rows:
                names.update(dict.fromkeys(row))
            columns = list(names)
        table = Table(title=title, caption=caption, title_justify="left")
        for name in columns:
            numeric = bool(rows) and all(
                isinstance(row.get(name), (int, float)) and not isinstance(row.get(name), bool)
                for row in rows
                if row.get(name) is not None
            )
            table.add_column(name, justify="right" if numeric else "left", overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(name)) for name in columns))
        self.console.print(table)

    def progress(self, *, unit: str = "bytes") -> Progress:
        """A progress display; ``unit`` is ``"bytes"`` (sizes and speed) or ``"items"``."""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        counters = (
            (DownloadColumn(), TransferSpeedColumn())
            if unit == "bytes"
            else (MofNCompleteColumn(), TaskProgressColumn())
        )
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            *counters,
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
