"""The sync client in a real Jupyter kernel (ipykernel, driven by nbclient).

A kernel runs each cell on the thread of its own asyncio loop; the sync client must work there
(a cell is a script), including a chat stream read token by token, and the kernel must shut down
cleanly with a client still open.
"""

from __future__ import annotations

import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from aerostack_async.testing import Emulator

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kernel start-up is slow there")


def _outputs(cell: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_client_and_chat_stream_in_a_jupyter_kernel(emulator: Emulator, backend: str) -> None:
    notebook = new_notebook(
        cells=[
            new_code_cell(
                "from aerostack_async import Aerostack\n"
                f"client = Aerostack(base_url={emulator.base_url!r}, "
                f"api_key={emulator.api_key!r}, backend={backend!r})\n"
                "client.cache.set('nb', {'cell': 1})\n"
                "print(client.cache.get('nb').value)"
            ),
            new_code_cell(
                "pieces = []\n"
                "with client.ai.chat_stream('Say hello to the notebook') as stream:\n"
                "    for text in stream.text_stream:\n"
                "        pieces.append(text)\n"
                "reply = client.ai.chat('Say hello to the notebook').response\n"
                "print(len(pieces) > 1, ''.join(pieces) == reply)"
            ),
            # Top-level await in the same kernel still works beside the sync client.
            new_code_cell(
                "from aerostack_async import AsyncAerostack\n"
                f"async with AsyncAerostack(base_url={emulator.base_url!r}, "
                f"api_key={emulator.api_key!r}) as aclient:\n"
                "    print((await aclient.cache.get('nb')).value == client.cache.get('nb').value)"
            ),
        ]
    )
    executed = NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": "."}}
    ).execute()
    outputs = [_outputs(cell) for cell in executed.cells]
    assert outputs[0].strip() == "{'cell': 1}"
    assert outputs[1].strip() == "True True"
    assert outputs[2].strip() == "True"
