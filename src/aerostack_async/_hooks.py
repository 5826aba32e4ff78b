"""Event hooks, in httpx's shape: ``{"request": [...], "response": [...]}``.

Each hook is a sync or async callable taking one argument. It runs for every attempt of every
call, on either adapter: a request hook just before an attempt is sent, with an
``httpx.Request`` whose ``X-Aerostack-Key`` is masked (``sk_***``) and whose body is there when
it was bytes (a streamed upload's is not: reading it would consume it); a response hook when the
answer's head has arrived (a plain call's body has been read by then; a stream's has not, and a
hook must not read it), with the ``httpx.Response``, whose ``.request`` is masked the same way.

Hooks observe: a change a hook makes to the request is not sent (headers for every call belong
in ``default_headers``, for one call in ``extra_headers``). An exception a hook raises ends the
call with that exception, unretried.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import ConfigurationError

__all__ = ["EventHook", "EventHooks", "Hooks", "check_event_hooks", "run_hooks"]

EventHook = Callable[[Any], Any]
"""A sync or async callable taking an ``httpx.Request`` (request hooks) or ``httpx.Response``."""

EventHooks = Mapping[str, Iterable[EventHook]]
"""``{"request": [hook, ...], "response": [hook, ...]}``; either key may be left out."""

_EVENTS = ("request", "response")


class Hooks:
    """The checked hooks of one client (and of its ``with_options`` copies unless replaced).

    ``observers`` are the library's own response observers (``with_raw_response`` records the
    response of each call through one); they see the wire response, not an ``httpx.Response``.
    """

    __slots__ = ("observers", "request", "response")

    def __init__(
        self,
        request: tuple[EventHook, ...] = (),
        response: tuple[EventHook, ...] = (),
        observers: tuple[Callable[[Any], None], ...] = (),
    ) -> None:
        self.request = request
        self.response = response
        self.observers = observers

    def as_dict(self) -> dict[str, list[EventHook]]:
        """The user's hooks, in the shape they were given."""
        return {"request": list(self.request), "response": list(self.response)}

    def with_observer(self, observer: Callable[[Any], None]) -> Hooks:
        """These hooks plus a library observer."""
        return Hooks(self.request, self.response, (*self.observers, observer))

    def __bool__(self) -> bool:
        return bool(self.request or self.response or self.observers)


def check_event_hooks(value: object, *, where: str = "event_hooks") -> Hooks:
    """``value`` as `Hooks`; anything but a mapping of the two events to callables fails."""
    if value is None:
        return Hooks()
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{where} must be a dict like {{'request': [...], 'response': [...]}}, "
            f"not {type(value).__name__}"
        )
    found: dict[str, tuple[EventHook, ...]] = {}
    for event, hooks in value.items():
        if event not in _EVENTS:
            raise ConfigurationError(
                f"{where}: unknown event {event!r}; the events are 'request' and 'response'"
            )
        if callable(hooks) or isinstance(hooks, (str, bytes)) or not isinstance(hooks, Iterable):
            raise ConfigurationError(f"{where}[{event!r}] must be a list of callables")
        listed = tuple(hooks)
        for hook in listed:
            if not callable(hook):
                raise ConfigurationError(
                    f"{where}[{event!r}]: {type(hook).__name__} object is not callable"
                )
        found[event] = listed
    return Hooks(found.get("request", ()), found.get("response", ()))


async def run_hooks(hooks: tuple[EventHook, ...], argument: object) -> None:
    """Call each hook with ``argument``, awaiting those that return an awaitable."""
    for hook in hooks:
        result = hook(argument)
        if inspect.isawaitable(result):
            await result
