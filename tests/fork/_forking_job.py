"""Run as a script: a client made before ``os.fork()`` is used by parent and child at once.

``python _forking_job.py BASE_URL KEY CLIENT BACKEND``, where CLIENT is ``async``, ``sync`` or
``sdk``. The client is created (and its pool warmed, several connections opened) before the fork;
then parent and child each run hundreds of set/get pairs on their own keys, concurrently, and
check that every answer is their own. Exit status 0 only if both sides got only their own
answers; a cross-read shows up as a wrong value or a validation error.
"""

from __future__ import annotations

import os
import sys

import anyio

from aerostack_async import SDK, Aerostack, AsyncAerostack

BASE_URL, KEY, CLIENT, BACKEND = sys.argv[1:5]
PAIRS = 300
WORKERS = 8


def expected(tag: str, n: int) -> dict[str, object]:
    return {"owner": tag, "n": n, "pad": tag * 20}


async def async_side(client: AsyncAerostack, tag: str) -> list[str]:
    wrong: list[str] = []

    async def worker(start: int) -> None:
        for n in range(start, PAIRS, WORKERS):
            key = f"fork:{tag}:{n}"
            await client.cache.set(key, expected(tag, n))
            got = (await client.cache.get(key)).value
            if got != expected(tag, n):
                wrong.append(f"{key}: {got!r}")

    async with anyio.create_task_group() as tg:
        for start in range(WORKERS):
            tg.start_soon(worker, start)
    return wrong


def sync_side(client: Aerostack, tag: str) -> list[str]:
    wrong = []
    for n in range(PAIRS):
        key = f"fork:{tag}:{n}"
        client.cache.set(key, expected(tag, n))
        got = client.cache.get(key).value
        if got != expected(tag, n):
            wrong.append(f"{key}: {got!r}")
    return wrong


def sdk_side(sdk: SDK, tag: str) -> list[str]:
    wrong = []
    for n in range(PAIRS):
        key = f"fork:{tag}:{n}"
        sdk.cache.cache_set(request={"key": key, "value": expected(tag, n)})
        got = sdk.cache.cache_get(request={"key": key}).value
        if got != expected(tag, n):
            wrong.append(f"{key}: {got!r}")
    return wrong


def main() -> int:
    if CLIENT == "async":
        client = AsyncAerostack(base_url=BASE_URL, api_key=KEY)

        async def warm() -> None:
            async with anyio.create_task_group() as tg:
                for n in range(WORKERS):
                    tg.start_soon(client.cache.set, f"fork:warm:{n}", n)

        anyio.run(warm, backend=BACKEND)

        def run(tag: str) -> list[str]:
            return anyio.run(async_side, client, tag, backend=BACKEND)

    elif CLIENT == "sync":
        sync = Aerostack(base_url=BASE_URL, api_key=KEY, backend=BACKEND)
        sync.cache.set("fork:warm", 1)

        def run(tag: str) -> list[str]:
            return sync_side(sync, tag)

    else:
        sdk = SDK(api_key_auth=KEY, server_url=BASE_URL)
        sdk.cache.cache_set(request={"key": "fork:warm", "value": 1})

        def run(tag: str) -> list[str]:
            return sdk_side(sdk, tag)

    pid = os.fork()
    tag = "child" if pid == 0 else "parent"
    try:
        wrong = run(tag)
    except BaseException as exc:
        wrong = [f"{type(exc).__name__}: {exc!r} {getattr(exc, 'exceptions', '')!r}"]
    for line in wrong[:5]:
        print(f"{tag}: {line}", flush=True)
    if pid == 0:
        os._exit(1 if wrong else 0)
    _, status = os.waitpid(pid, 0)
    child_ok = os.waitstatus_to_exitcode(status) == 0
    print(f"parent ok={not wrong} child ok={child_ok}", flush=True)
    return 0 if child_ok and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
