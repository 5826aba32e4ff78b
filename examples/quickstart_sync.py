"""Quick start without async: ``Aerostack``, the blocking client, for scripts and notebooks.

It runs the async client on an event loop in a background thread; the methods, arguments and
results are the same, minus ``await``::

    aerostack-async serve --memory &
    AEROSTACK_API_KEY=sk_local_aerostack python examples/quickstart_sync.py
"""

from aerostack_async import Aerostack


def main() -> None:
    with Aerostack(environment="local") as client:
        client.cache.set("visits", 0)
        for _ in range(3):
            client.cache.increment("visits")
        print("visits:", client.cache.get("visits").value)

        rows = client.database.query("SELECT 6 * 7 AS answer")
        print("answer:", rows.results[0]["answer"])

        # Streams work too: a sync context manager and a plain for loop.
        with client.ai.chat_stream("Describe a sunrise in one line.") as stream:
            print("ai: ", end="")
            for text in stream.text_stream:
                print(text, end="", flush=True)
        print()


if __name__ == "__main__":
    main()
