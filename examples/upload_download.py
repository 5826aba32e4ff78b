"""Upload and download a file in constant memory, with progress, and check it came back intact.

aerostack-async serve --memory &
AEROSTACK_API_KEY=sk_local_aerostack python examples/upload_download.py
"""

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path

from aerostack_async import AsyncAerostack

SIZE = 8 * 2**20  # 8 MiB here; the same code streams gigabytes in the same memory


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def write_test_file(path: Path) -> None:
    with path.open("wb") as file:
        for _ in range(SIZE // 2**20):
            file.write(os.urandom(2**20))


def show(label: str):
    def on_progress(done: int, total: int | None) -> None:
        percent = f"{100 * done / total:5.1f}%" if total else f"{done:,} bytes"
        print(f"\r{label} {percent}", end="\n" if done == total else "", flush=True)

    return on_progress


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        source, copy = Path(folder, "big.bin"), Path(folder, "copy.bin")
        write_test_file(source)

        async with AsyncAerostack(environment="local") as client:
            # A path is streamed from disk; on a retry the file is simply read again.
            result = await client.storage.upload(
                "examples/big.bin", source, on_progress=show("upload  ")
            )
            print("stored at", result.url)

            async with client.storage.download("examples/big.bin") as download:
                print("size:", download.size, "type:", download.content_type)
                # save() writes to a temporary file and renames it only when complete.
                await download.save(copy, on_progress=show("download"))

            await client.storage.delete("examples/big.bin")

        same = sha256_of(source) == sha256_of(copy)
        print("checksums match:", same)


if __name__ == "__main__":
    asyncio.run(main())
