"""A batch job spread over processes with Dask: one client per worker, partitions, results and
failures gathered. Dask schedules; the client only does each partition's calls.

aerostack-async serve --memory &
AEROSTACK_API_KEY=sk_local_aerostack python examples/dask_batch.py [--items 200000]

Needs ``dask[distributed]``. Here a LocalCluster of 2 worker processes; on a real cluster,
pass the scheduler's address to ``Client(...)`` instead and nothing else changes.
"""

import argparse
import asyncio
import os
import uuid
from collections import Counter

from dask.distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from aerostack_async import Aerostack

PARTITION = 10_000  # items per task: big enough that a task is mostly calls, not scheduling


class AerostackClient(WorkerPlugin):
    """One blocking client per worker process: made when the worker starts, closed when it
    stops. Every task on that worker shares it (and its connection pool)."""

    name = "aerostack"

    def setup(self, worker):
        self.client = Aerostack(environment="local")  # the key comes from AEROSTACK_API_KEY

    async def teardown(self, worker):
        # The worker calls this on its own event loop; closing blocks, so it runs aside.
        await asyncio.to_thread(self.client.close)


def worker_client():
    """This worker process's client (see AerostackClient)."""
    return get_worker().plugins["aerostack"].client


def key(run, n):
    return f"dask:{run}:{n}"


def write_partition(run, part, start, stop):
    """Write one partition's entries; report which were written and which failed."""
    client = worker_client()
    entries = ((key(run, n), {"n": n, "part": part}) for n in range(start, stop))
    written, failures = [], []
    # A stream: the partition is never held as a list of results, however large it is.
    with client.cache.set_many_stream(entries, return_exceptions=True) as outcomes:
        for n, outcome in zip(range(start, stop), outcomes, strict=True):
            if isinstance(outcome, Exception):
                failures.append((n, repr(outcome)))
            else:
                written.append(n)
    return {
        "part": part,
        "written": written,
        "failures": failures,
        "pid": os.getpid(),
        "client": id(client),
    }


def check_partition(run, part, start, stop):
    """Read one partition back; the items whose stored value is the one this job wrote."""
    client = worker_client()
    with client.cache.get_many_stream(key(run, n) for n in range(start, stop)) as entries:
        return [
            entry.value["n"]
            for entry in entries
            if entry.exists and entry.value == {"n": int(entry.key.rsplit(":", 1)[1]), "part": part}
        ]


def gather(futures):
    """Every task's result, and the tasks that raised (a failure never hides the others)."""
    results, failed = [], []
    for future in as_completed(futures):
        if future.status == "error":
            failed.append((future.key, repr(future.exception())))
        else:
            results.append(future.result())
        future.release()
    return results, failed


def main():
    parser = argparse.ArgumentParser(description="a cache batch job on a local Dask cluster")
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    items = options.items
    run = uuid.uuid4().hex[:8]  # a fresh key prefix, so an earlier run's entries never count
    parts = [
        (part, start, min(start + PARTITION, items))
        for part, start in enumerate(range(0, items, PARTITION))
    ]

    cluster = LocalCluster(
        n_workers=options.workers, threads_per_worker=2, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as dask:
        dask.register_plugin(AerostackClient())
        written, failed = gather([dask.submit(write_partition, run, *p, pure=False) for p in parts])
        checked, check_failed = gather([dask.submit(check_partition, run, *p) for p in parts])

    times_written = Counter(n for result in written for n in result["written"])
    times_checked = Counter(n for found in checked for n in found)
    item_failures = [failure for result in written for failure in result["failures"]]
    everything = set(range(items))
    print(f"partitions: {len(parts)} of up to {PARTITION:,} items")
    processes = {result["pid"] for result in written}
    clients = {(result["pid"], result["client"]) for result in written}
    print(f"worker processes: {len(processes)}, clients: {len(clients)}")
    print(f"task failures: {len(failed) + len(check_failed)}, item failures: {len(item_failures)}")
    counts = {*times_written.values(), *times_checked.values()}
    once = set(times_written) == set(times_checked) == everything and counts == {1}
    print(f"items: {items}, each written and read back exactly once: {once}")


if __name__ == "__main__":
    main()
