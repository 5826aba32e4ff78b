"""Streaming chat: print tokens as they arrive, then read the whole message and its usage.

aerostack-async serve --memory &
AEROSTACK_API_KEY=sk_local_aerostack python examples/streaming_chat.py
"""

import asyncio

from aerostack_async import AsyncAerostack


async def main() -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Why do streams matter for chat UIs?"},
    ]
    async with AsyncAerostack(environment="local") as client:
        # Leaving the block (even by break or an exception) closes the stream and frees
        # its connection; include_usage asks for a final frame with token counts.
        async with client.ai.chat_stream(messages, max_tokens=60, include_usage=True) as stream:
            async for text in stream.text_stream:
                print(text, end="", flush=True)
            print()
            final = await stream.get_final_message()
        print("finish reason:", final.choices[0].finish_reason)
        if final.usage is not None:
            print("completion tokens:", final.usage.completion_tokens)


if __name__ == "__main__":
    asyncio.run(main())
