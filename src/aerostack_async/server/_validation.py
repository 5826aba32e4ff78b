"""Reading a JSON request body field by field, collecting ``details.fieldErrors``.

Every route validates its body with a `Body` so that all problems are reported at once,
under the API's exact field names, before anything is read or written.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ._errors import validation_error

MISSING: Final[Any] = object()


class Body:
    """A parsed JSON object plus the errors found while reading it.

    Optional fields that are absent or ``null`` read as their default. ``bool`` is never
    accepted where a number is expected.
    """

    __slots__ = ("data", "errors")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def error(self, field: str, message: str) -> None:
        """Record a problem with ``field``."""
        self.errors.setdefault(field, []).append(message)

    def check(self) -> None:
        """Raise 400 ``VALIDATION_ERROR`` if any problem was recorded."""
        if self.errors:
            raise validation_error(self.errors)

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name, MISSING)
        if value is None or value is MISSING:
            # A required field sent as null is as missing as one left out.
            if required:
                self.error(name, "Required")
            return MISSING
        return value

    def any(self, name: str, *, required: bool = False, default: Any = None) -> Any:
        """Any JSON value; with ``required``, ``null`` counts as present."""
        if name not in self.data:
            if required:
                self.error(name, "Required")
            return default
        return self.data[name]

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        default: str | None = None,
        min_length: int = 0,
        max_bytes: int | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> Any:
        """A string field."""
        value = self._get(name, required)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, str):
            self.error(name, "Expected string")
            return default
        if len(value) < min_length:
            self.error(name, f"Must be at least {min_length} characters")
        if max_bytes is not None and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
            self.error(name, f"Must be at most {max_bytes} bytes")
        if choices is not None and value not in choices:
            self.error(name, "Must be one of: " + ", ".join(choices))
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        """An integer field (``3.0`` is accepted as 3; ``true`` is not a number)."""
        value = self._get(name, required)
        if value is MISSING or value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, "Expected integer")
            return default
        if minimum is not None and value < minimum:
            self.error(name, f"Must be >= {minimum}")
        if maximum is not None and value > maximum:
            self.error(name, f"Must be <= {maximum}")
        return value

    def number(
        self,
        name: str,
        *,
        required: bool = False,
        default: float | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        """A finite number field."""
        value = self._get(name, required)
        if value is MISSING or value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            self.error(name, "Expected number")
            return default
        if minimum is not None and value < minimum:
            self.error(name, f"Must be >= {minimum}")
        if maximum is not None and value > maximum:
            self.error(name, f"Must be <= {maximum}")
        return value

    def boolean(self, name: str, *, required: bool = False, default: bool | None = None) -> Any:
        """A boolean field."""
        value = self._get(name, required)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, bool):
            self.error(name, "Expected boolean")
            return default
        return value

    def object(
        self, name: str, *, required: bool = False, default: dict[str, Any] | None = None
    ) -> Any:
        """A JSON object field."""
        value = self._get(name, required)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, dict):
            self.error(name, "Expected object")
            return default
        return value

    def array(
        self,
        name: str,
        *,
        required: bool = False,
        default: list[Any] | None = None,
        min_items: int = 0,
        max_items: int | None = None,
    ) -> Any:
        """A JSON array field."""
        value = self._get(name, required)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, list):
            self.error(name, "Expected array")
            return default
        if len(value) < min_items:
            self.error(name, f"Must have at least {min_items} item(s)")
        if max_items is not None and len(value) > max_items:
            self.error(name, f"Must have at most {max_items} items")
        return value
