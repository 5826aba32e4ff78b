"""Run as a script: ``multiprocessing.Pool`` (fork) workers share a client made at module level.

``python _pool_job.py BASE_URL KEY CLIENT BACKEND``. The client exists before the pool forks its
workers, and the parent has used it; each worker then writes and reads back its own keys through
it. Prints ``ok N`` when every item came back as written.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

import anyio

from aerostack_async import Aerostack, AsyncAerostack

BASE_URL, KEY, CLIENT, BACKEND = sys.argv[1:5]
ITEMS = 200

if CLIENT == "sync":
    SYNC = Aerostack(base_url=BASE_URL, api_key=KEY, backend=BACKEND)
else:
    ASYNC = AsyncAerostack(base_url=BASE_URL, api_key=KEY)


def round_trip(n: int) -> tuple[int, object]:
    key = f"mp:{n}"
    value = {"n": n, "pid": os.getpid()}
    if CLIENT == "sync":
        SYNC.cache.set(key, value)
        return n, SYNC.cache.get(key).value == value

    async def go() -> bool:
        await ASYNC.cache.set(key, value)
        return (await ASYNC.cache.get(key)).value == value

    return n, anyio.run(go, backend=BACKEND)


def main() -> int:
    round_trip(-1)  # the parent uses the client (opens its pool) before any worker forks
    with multiprocessing.get_context("fork").Pool(3) as pool:
        results = pool.map(round_trip, range(ITEMS), chunksize=10)
    round_trip(-2)  # and can still use it afterwards
    good = sum(1 for _, ok in results if ok is True)
    print(f"ok {good}", flush=True)
    return 0 if good == ITEMS else 1


if __name__ == "__main__":
    sys.exit(main())
