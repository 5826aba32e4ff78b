"""The package logger, ``aerostack_async``, with API keys redacted from every record.

Nothing here logs headers, so a key should never reach a record; the filter is a second line of
defence (for messages that quote user input, say). ``AEROSTACK_LOG=debug`` or ``info`` attaches a
stderr handler at that level, once, when the first client is built, unless the application has
configured this logger itself (explicit beats implicit).

Like any library's logger it has a ``NullHandler``: in an application that has not configured
logging, nothing of ours reaches stderr (not even through Python's last-resort handler).
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["logger", "redact", "redact_key", "setup_from_env"]

logger = logging.getLogger("aerostack_async")

# Keys look like sk_… or pk_…; anything shaped like one is masked wherever it appears.
_KEY_PATTERN = re.compile(r"\b([sp]k)_[A-Za-z0-9_\-.]{4,}")


def redact(text: str) -> str:
    """``text`` with anything that looks like an API key replaced by ``sk_***``."""
    return _KEY_PATTERN.sub(r"\1_***", text)


def redact_key(key: str) -> str:
    """How a key is shown in a repr: its kind only (``sk_***``), never its characters."""
    if key.startswith(("sk_", "pk_")):
        return key[:3] + "***"
    return "***"


class RedactingFilter(logging.Filter):
    """Masks key-shaped strings in a record's message (arguments are merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = RedactingFilter()
logger.addFilter(_FILTER)
_NULL = logging.NullHandler()
logger.addHandler(_NULL)
_env_done = False


def setup_from_env() -> None:
    """Honour ``AEROSTACK_LOG=debug|info`` (attach one stderr handler; later calls do nothing).

    An application that has set this logger's level or given it a handler has said what it
    wants: the variable is then ignored.
    """
    global _env_done
    if _env_done:
        return
    _env_done = True
    if logger.level != logging.NOTSET or any(h is not _NULL for h in logger.handlers):
        return
    level_name = os.environ.get("AEROSTACK_LOG", "").strip().lower()
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(level_name)
    if level is None:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_FILTER)
    logger.addHandler(handler)
    logger.setLevel(level)
