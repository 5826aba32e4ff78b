"""Run as a script: a sync client or ``SDK`` left open in one of the ways real scripts do.

``python _exit_job.py BASE_URL KEY CLIENT BACKEND HOW``; CLIENT is ``sync`` or ``sdk``; HOW is

- ``never-closed``: made at module level, used, never closed (the seed README's example);
- ``dropped``: made inside a function, used, and collected when the function returns; the
  script then goes on with more work;
- ``sys-exit``: still open when the script calls ``sys.exit(3)``;
- ``unhandled``: still open when an exception escapes the script.

The first ``atexit`` hook registered runs last: it reports how many TCP connections to the
server this process still has open, once our own exit hook has run.
"""

from __future__ import annotations

import atexit
import gc
import sys
from urllib.parse import urlsplit

import psutil

BASE_URL, KEY, CLIENT, BACKEND, HOW = sys.argv[1:6]
PORT = urlsplit(BASE_URL).port


def report_connections() -> None:
    open_now = [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == PORT and c.status == psutil.CONN_ESTABLISHED
    ]
    print(f"connections left open: {len(open_now)}", flush=True)


# Registered before the package is imported, so that it runs after the package's own hook.
atexit.register(report_connections)

from aerostack_async import SDK, Aerostack  # noqa: E402


def use(client: object) -> None:
    if isinstance(client, SDK):
        client.cache.cache_set(request={"key": "exit", "value": HOW})
        assert client.cache.cache_get(request={"key": "exit"}).value == HOW
    else:
        assert isinstance(client, Aerostack)
        client.cache.set("exit", HOW)
        assert client.cache.get("exit").value == HOW


def make() -> object:
    if CLIENT == "sdk":
        return SDK(api_key_auth=KEY, server_url=BASE_URL)
    return Aerostack(base_url=BASE_URL, api_key=KEY, backend=BACKEND)


def dropped() -> None:
    use(make())


if HOW == "dropped":
    dropped()
    gc.collect()
    # More work after the collection: a fresh client still works, and is closed properly.
    with Aerostack(base_url=BASE_URL, api_key=KEY, backend=BACKEND) as again:
        again.cache.set("exit", "again")
    print("last line", flush=True)
else:
    CLIENT_OBJ = make()
    use(CLIENT_OBJ)
    print("last line", flush=True)
    if HOW == "sys-exit":
        sys.exit(3)
    if HOW == "unhandled":
        raise RuntimeError("boom")
