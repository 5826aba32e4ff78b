"""Migrating from the seed SDK (``aerostack==0.1.2``) in two steps.

Step 1 changes only the import: ``SDK`` keeps the seed's constructor, its ``op`` / ``op_async``
methods and ``request={...}`` dicts, and its error names. Step 2 moves to ``AsyncAerostack``,
one call at a time.

    aerostack-async serve --memory &
    AEROSTACK_API_KEY=sk_local_aerostack python examples/migrating_from_seed.py
"""

import asyncio
import os

from aerostack_async import SDK, AsyncAerostack, errors

KEY = os.environ["AEROSTACK_API_KEY"]
BASE_URL = os.environ.get("AEROSTACK_BASE_URL", "http://localhost:8787/v1")


def step_1_seed_code_unchanged() -> None:
    # Was: from aerostack import SDK
    with SDK(api_key_auth=KEY, server_url=BASE_URL) as sdk:
        sdk.cache.cache_set(request={"key": "migrating:greeting", "value": "hello", "ttl": 60})
        res = sdk.cache.cache_get(request={"key": "migrating:greeting"})
        print("seed style, cached:", res.value)

        res = sdk.ai.ai_chat(request={"messages": [{"role": "user", "content": "Hi"}]})
        print("seed style, ai:", res.response)

        try:
            sdk.database.db_query(request={"sql": "SELEC 1"})
        except errors.ErrorResponse as err:  # the seed's name, still caught
            print("seed style, error:", err.data.code)


async def step_2_native_client() -> None:
    async with AsyncAerostack(api_key=KEY, base_url=BASE_URL) as client:
        await client.cache.set("migrating:greeting", "hello", ttl=60)
        print("native, cached:", (await client.cache.get("migrating:greeting")).value)

        reply = await client.ai.chat("Hi")
        print("native, ai:", reply.text)

        try:
            await client.database.query("SELEC 1")
        except errors.BadRequestError as err:  # a precise class per status
            print("native, error:", err.code)


if __name__ == "__main__":
    step_1_seed_code_unchanged()
    asyncio.run(step_2_native_client())
