"""What every resource shares: the transport handle, argument checks, and paginated iteration.

Argument checks raise `InvalidRequestError` (a ``ValueError``) for
a bad value and `InvalidArgumentTypeError` (also a ``TypeError``)
for a wrong type, before anything is sent.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from .._constants import MAX_JSON_DEPTH as _MAX_JSON_DEPTH
from ..errors import InvalidArgumentTypeError, InvalidRequestError
from ..models._base import encode

if TYPE_CHECKING:
    from .._transport import Transport

__all__ = ["MAX_JSON_DEPTH", "Pages", "Resource"]

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)


class Resource:
    """A group of API operations bound to one client's transport."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__} resource>"


class Pages(Generic[T]):
    """Every item of every page, fetched one page at a time as you iterate.

    Example:
        ```python
        async for info in client.cache.list(prefix="user:"):
            print(info.key)
        ```

    Nothing runs in the background: each page is requested when the previous one is used up,
    so breaking out of the loop leaves nothing behind.
    """

    __slots__ = ("_buffer", "_cursor", "_done", "_fetch")

    def __init__(self, fetch: Callable[[str | None], Awaitable[tuple[list[T], str | None]]]):
        self._fetch = fetch
        self._cursor: str | None = None
        self._buffer: deque[T] = deque()
        self._done = False

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopAsyncIteration
            items, cursor = await self._fetch(self._cursor)
            # No cursor, or the same one again, means there is nothing more to fetch.
            self._done = cursor is None or cursor == self._cursor
            self._cursor = cursor
            self._buffer.extend(items)
        return self._buffer.popleft()

    async def collect(self) -> list[T]:
        """Every remaining item, as a list."""
        return [item async for item in self]

    def take_buffered(self) -> list[T]:
        """Hand over the items already fetched but not yet yielded (no I/O).

        The sync facade uses it to move a whole page per trip through its event-loop thread.
        """
        taken = list(self._buffer)
        self._buffer.clear()
        return taken


# -- argument checks ------------------------------------------------------------------------


def check_str(
    name: str,
    value: object,
    *,
    empty: bool = False,
    max_bytes: int | None = None,
) -> str:
    """``value`` if it is a string of the right size."""
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{name} must be a str, not {type(value).__name__}")
    if not empty and not value:
        raise InvalidRequestError(f"{name} must not be empty")
    if max_bytes is not None:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidRequestError(f"{name} must be valid UTF-8 (no lone surrogates)") from None
        if size > max_bytes:
            raise InvalidRequestError(f"{name} must be at most {max_bytes} bytes of UTF-8")
    return value


def check_optional_str(name: str, value: object, **kw: Any) -> str | None:
    """``value`` if it is None or a valid string."""
    return None if value is None else check_str(name, value, **kw)


def check_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` if it is an int (not a bool) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentTypeError(f"{name} must be an int, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidRequestError(f"{name} must be at most {maximum}")
    return value


def check_optional_int(name: str, value: object, **kw: Any) -> int | None:
    """``value`` if it is None or a valid int."""
    return None if value is None else check_int(name, value, **kw)


def check_number(name: str, value: object, *, minimum: float, maximum: float) -> float | None:
    """``value`` if it is None or a real number within bounds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentTypeError(f"{name} must be a number, not {type(value).__name__}")
    if not (minimum <= value <= maximum):
        raise InvalidRequestError(f"{name} must be between {minimum} and {maximum}")
    return float(value)


def check_object(name: str, value: object) -> dict[str, Any]:
    """``value`` as a dict if it is a mapping with string keys (a JSON object)."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(f"{name} must be a dict, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise InvalidArgumentTypeError(f"{name} keys must be str, not {type(key).__name__}")
    return dict(value)


def check_optional_object(name: str, value: object) -> dict[str, Any] | None:
    """``value`` as a dict if it is None or a JSON object."""
    return None if value is None else check_object(name, value)


def check_list(
    name: str, value: object, *, min_items: int = 0, max_items: int | None = None
) -> list[Any]:
    """``value`` as a list if it is a sequence (not a string) of an allowed length."""
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Sequence):
        raise InvalidArgumentTypeError(f"{name} must be a list, not {type(value).__name__}")
    if len(value) < min_items:
        raise InvalidRequestError(f"{name} must have at least {min_items} item(s)")
    if max_items is not None and len(value) > max_items:
        raise InvalidRequestError(f"{name} must have at most {max_items} items")
    return list(value)


def check_sql_params(name: str, value: object) -> list[Any]:
    """``value`` as a list of values SQLite can bind: strings, numbers, booleans and None.

    Refused as the API refuses them (it answers 400 ``VALIDATION_ERROR``), but before sending:
    an item that JSON-encodes to an object or an array (a dict, list, tuple, Struct,
    dataclass...), an int outside SQLite's signed 64-bit range, and NaN or infinity.
    """
    params = check_list(name, value)
    for index, item in enumerate(params):
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is float:
            if not math.isfinite(item):  # (here, so that a batch names the statement at fault)
                raise InvalidRequestError(
                    f"{name}[{index}] is NaN or infinity, which JSON cannot carry; "
                    "send None or a string instead"
                )
            continue
        if isinstance(item, int) and not isinstance(item, bool):
            if not _INT64_MIN <= item <= _INT64_MAX:
                raise InvalidRequestError(
                    f"{name}[{index}] is an integer outside the signed 64-bit range the "
                    "database stores"
                )
            continue
        try:
            first = encode(item)[:1]
        except (TypeError, msgspec.EncodeError, OverflowError, RecursionError):
            continue  # encode_body reports it, with the same message as everywhere else
        if first in (b"{", b"["):
            shape = "object" if first == b"{" else "array"
            raise InvalidRequestError(
                f"{name}[{index}] must be a string, number, boolean or None, not a JSON {shape} "
                f"({type(item).__name__}); encode it to a string first"
            )
    return params


def convert(name: str, value: object, type_: type[S]) -> S:
    """``value`` as ``type_``: a Struct as is, a dict validated and converted."""
    if isinstance(value, type_):
        return value
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(
            f"{name} must be a {type_.__name__} or a dict, not {type(value).__name__}"
        )
    try:
        return msgspec.convert(value, type_, from_attributes=False)
    except msgspec.ValidationError as exc:
        raise InvalidRequestError(f"{name} is not a valid {type_.__name__}: {exc}") from exc


MAX_JSON_DEPTH = _MAX_JSON_DEPTH
"""The deepest nesting of arrays and objects a request body may have (the body itself is 1).

The emulator refuses deeper bodies with 400 ``VALIDATION_ERROR``; JSON parsers that recurse
(Python's ``json``, msgspec) give up somewhere below 1000 levels, depending on their stack.
"""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def encode_body(value: Any, *, floats_checked: bool = False) -> bytes:
    """JSON bytes for a request body; a value JSON cannot hold is a typed error.

    Refused with `InvalidRequestError`: NaN and infinities (msgspec would write them as
    ``null``, silently changing the value) and nesting deeper than `MAX_JSON_DEPTH`.
    Both checks look at the encoded bytes first (C-speed searches) and walk the value only
    when those bytes could hide a fault: a ``null`` somewhere, or many brackets.
    ``floats_checked``: the caller has already refused every non-finite float in ``value``
    (as `check_sql_params()` does), so a ``null`` needs no walk.
    """
    try:
        data = encode(value)
    except RecursionError:
        raise _too_deep() from None
    except (TypeError, msgspec.EncodeError, OverflowError) as exc:
        raise InvalidArgumentTypeError(f"cannot send this value as JSON: {exc}") from exc
    if not floats_checked and data.find(b"null") >= 0:  # (find: cheaper than `in` here)
        _check_finite(value)
    # Each level of nesting costs two bytes and one bracket: most bodies are ruled out at once.
    if len(data) > 2 * MAX_JSON_DEPTH and data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
        _check_depth(data)
    return data


def _too_deep() -> InvalidRequestError:
    return InvalidRequestError(
        f"cannot send this value: it is nested deeper than {MAX_JSON_DEPTH} levels of arrays "
        "and objects, more than the API's JSON parser accepts"
    )


def _opaque(value: object) -> None:
    # msgspec.Raw is JSON encoded (and checked) already; nothing in it to find.
    return None


def _check_finite(value: Any) -> None:
    """Raise if a float inside ``value`` is NaN or infinite (JSON has neither)."""
    try:
        tree = msgspec.to_builtins(value, enc_hook=_opaque)
    except RecursionError:
        raise _too_deep() from None
    if _all_finite(tree):
        return
    raise InvalidRequestError(
        f"cannot send NaN or infinity as JSON (at {_non_finite_path(tree, '$')}): JSON has no "
        "such numbers; send None or a string instead"
    )


def _all_finite(tree: Any) -> bool:
    # The common case (a None among the values, no NaN): a tight loop, no paths.
    isfinite = math.isfinite
    if type(tree) is float:
        return isfinite(tree)
    stack = [tree] if type(tree) in (dict, list, tuple) else []
    while stack:
        node = stack.pop()
        for item in node.values() if type(node) is dict else node:
            kind = type(item)
            if kind is float:
                if not isfinite(item):
                    return False
            elif kind is dict or kind is list or kind is tuple:
                stack.append(item)
    return True


def _non_finite_path(node: Any, path: str) -> str:
    """Where in ``node`` (known to hold one) the first NaN or infinity is, as a JSON path."""
    if isinstance(node, dict):
        items: Any = ((f"{path}.{key}", item) for key, item in node.items())
    elif isinstance(node, (list, tuple)):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(node))
    else:
        return path
    for where, item in items:
        if not _all_finite(item):
            return _non_finite_path(item, where)
    return path  # pragma: no cover - only called on a tree that holds one


def _check_depth(data: bytes) -> None:
    """Raise if the JSON ``data`` nests arrays and objects deeper than `MAX_JSON_DEPTH`."""
    try:
        tree = msgspec.json.decode(data)
    except RecursionError:
        raise _too_deep() from None
    level: list[Any] = [tree] if isinstance(tree, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        below: list[Any] = []
        for node in level:
            children = node.values() if isinstance(node, dict) else node
            below += [child for child in children if isinstance(child, (dict, list))]
        level = below
