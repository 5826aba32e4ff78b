"""The chat page (examples/web_chat) end to end, in headless Chromium against the emulator.

Tokens must show up in the page one by one, the streamed reply must equal the plain one, a
closed tab must end the upstream stream and close its connection, and a file chosen on the
page must land in storage.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from aerostack_async import Aerostack
from aerostack_async.testing import Emulator

from .conftest import WebApp

T = TypeVar("T")

QUESTION = "How do message queues help a web service under load?"

# Records the text of the newest reply at every DOM mutation, so a test can see it grow.
WATCH_REPLIES = """() => {
  window.snapshots = [];
  const conversation = document.getElementById("conversation");
  new MutationObserver(() => {
    const replies = conversation.querySelectorAll(".reply .text");
    if (!replies.length) return;
    const text = replies[replies.length - 1].textContent;
    if (text !== window.snapshots[window.snapshots.length - 1]) window.snapshots.push(text);
  }).observe(conversation, {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture
def client(paced_emulator: Emulator) -> Iterator[Aerostack]:
    """A client of the same emulator, to check what the page did."""
    with Aerostack(api_key=paced_emulator.api_key, base_url=paced_emulator.base_url) as made:
        yield made


def _plain_reply(client: Aerostack, messages: list[dict[str, str]]) -> str:
    content = client.ai.chat(messages).choices[0].message.content
    assert content is not None
    return content


def _eventually(what: str, probe: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Poll ``probe()`` until ``done(value)``; fail with the last value after 30 s."""
    deadline = time.monotonic() + 30
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}; last seen: {value!r}")
        time.sleep(0.05)


def _ask(page: Any, question: str) -> None:
    page.fill("#prompt", question)
    page.click("#send")


def _reply_text(page: Any, index: int) -> str:
    return str(page.locator(".reply .text").nth(index).text_content())


def test_tokens_stream_into_the_page_and_add_up_to_the_plain_reply(
    browser: Any, web_app: WebApp, client: Aerostack
) -> None:
    page = browser.new_page()
    page.goto(web_app.url)
    page.evaluate(WATCH_REPLIES)

    _ask(page, QUESTION)
    page.wait_for_selector('.reply[data-state="done"]', timeout=60_000)

    final = _reply_text(page, 0)
    assert final == _plain_reply(client, [{"role": "user", "content": QUESTION}])
    snapshots: list[str] = page.evaluate("window.snapshots")
    # The text grew in many steps, each a prefix of the next: tokens arrived one by one, not
    # as one block at the end.
    assert len(snapshots) >= 10, snapshots
    assert snapshots[-1] == final
    assert len(snapshots[0]) < len(final) // 4
    assert all(a != b and b.startswith(a) for a, b in itertools.pairwise(snapshots))

    # The conversation carries on: the second reply answers the whole history.
    follow_up = "And what about caches?"
    _ask(page, follow_up)
    page.wait_for_selector('.reply[data-state="done"] >> nth=1', timeout=60_000)
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": final},
        {"role": "user", "content": follow_up},
    ]
    assert _reply_text(page, 1) == _plain_reply(client, history)
    assert web_app.stats() == {"open": 0, "completed": 2, "cancelled": 0, "failed": 0}
    page.close()


def test_closing_the_tab_cancels_the_upstream_stream_and_closes_its_connection(
    browser: Any, web_app: WebApp, client: Aerostack, paced_emulator: Emulator
) -> None:
    full = _plain_reply(client, [{"role": "user", "content": QUESTION}])
    page = browser.new_page()
    page.goto(web_app.url)
    assert web_app.upstream_connections() == set()  # a fresh app: nothing pooled yet

    _ask(page, QUESTION)
    page.wait_for_function(
        "document.querySelector('.reply .text')?.textContent.length >= 12", timeout=60_000
    )
    # Mid-reply: one relay open, on one connection to the emulator.
    assert web_app.stats()["open"] == 1
    [streaming] = web_app.upstream_connections()
    shown = _reply_text(page, 0)
    page.close()

    stats = _eventually("the relay to end", web_app.stats, lambda s: s["open"] == 0)
    assert stats == {"open": 0, "completed": 0, "cancelled": 1, "failed": 0}
    assert len(shown) < len(full)  # it really was closed mid-reply
    # The relay left `async with chat_stream`: its connection is closed, not kept or leaked,
    # on our side and on the emulator's.
    _eventually("the connection to close", web_app.upstream_connections, lambda c: not c)
    emulator_side = psutil.Process(paced_emulator.process.pid)
    _eventually(
        "the emulator to see the connection closed",
        lambda: [
            c
            for c in emulator_side.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == streaming and c.status == psutil.CONN_ESTABLISHED
        ],
        lambda still_open: not still_open,
    )

    # The app is still in shape: the next visitor gets a whole reply.
    again = browser.new_page()
    again.goto(web_app.url)
    _ask(again, QUESTION)
    again.wait_for_selector('.reply[data-state="done"]', timeout=60_000)
    assert _reply_text(again, 0) == full
    assert web_app.stats()["completed"] == 1
    again.close()


def test_the_stop_button_ends_the_reply_the_same_way(
    browser: Any, web_app: WebApp, client: Aerostack
) -> None:
    page = browser.new_page()
    page.goto(web_app.url)
    _ask(page, QUESTION)
    page.wait_for_function(
        "document.querySelector('.reply .text')?.textContent.length >= 12", timeout=60_000
    )

    page.click("#stop")

    page.wait_for_selector('.reply[data-state="stopped"]')
    stats = _eventually("the relay to end", web_app.stats, lambda s: s["open"] == 0)
    assert stats["cancelled"] == 1
    _eventually("the connection to close", web_app.upstream_connections, lambda c: not c)
    page.close()


def test_a_file_chosen_on_the_page_is_stored(
    browser: Any, web_app: WebApp, client: Aerostack, tmp_path: Path
) -> None:
    data = secrets.token_bytes(3 * 2**20 + 7)
    source = tmp_path / "photo.bin"
    source.write_bytes(data)
    key = f"web-chat/{secrets.token_hex(4)}/photo.bin"
    page = browser.new_page()
    page.goto(web_app.url)

    page.set_input_files("#file", str(source))
    page.fill("#key", key)
    page.click("#upload-button")

    page.wait_for_selector('#upload-result[data-state="done"]', timeout=60_000)
    assert page.get_attribute("#upload-result", "data-key") == key
    assert client.storage.get(key) == data
    page.close()


def test_without_a_key_the_file_goes_under_uploads(
    browser: Any, web_app: WebApp, client: Aerostack, tmp_path: Path
) -> None:
    name = f"note-{secrets.token_hex(4)}.txt"
    (tmp_path / name).write_text("hello from the page")
    page = browser.new_page()
    page.goto(web_app.url)

    page.set_input_files("#file", str(tmp_path / name))
    page.click("#upload-button")

    page.wait_for_selector('#upload-result[data-state="done"]', timeout=60_000)
    assert client.storage.get(f"uploads/{name}") == b"hello from the page"
    page.close()


def test_a_bad_key_is_refused_with_the_reason(
    browser: Any, web_app: WebApp, tmp_path: Path
) -> None:
    (tmp_path / "x.txt").write_text("x")
    page = browser.new_page()
    page.goto(web_app.url)

    page.set_input_files("#file", str(tmp_path / "x.txt"))
    page.fill("#key", "a//b")
    page.click("#upload-button")

    page.wait_for_selector('#upload-result[data-state="failed"]', timeout=60_000)
    assert "empty segment" in str(page.text_content("#upload-result"))
    page.close()


def test_a_big_upload_is_streamed_through_not_held_in_memory(
    browser: Any, web_app: WebApp, client: Aerostack, tmp_path: Path
) -> None:
    size = 64 * 2**20
    source = tmp_path / "big.bin"
    with source.open("wb") as file:
        for _ in range(size // 2**20):
            file.write(secrets.token_bytes(2**20))
    key = f"web-chat/{secrets.token_hex(4)}/big.bin"
    app_process = psutil.Process(web_app.process.pid)
    peak_before = _peak_rss(app_process)
    page = browser.new_page()
    page.goto(web_app.url)

    page.set_input_files("#file", str(source))
    page.fill("#key", key)
    page.click("#upload-button")
    page.wait_for_selector('#upload-result[data-state="done"]', timeout=120_000)

    # The app's peak memory grew by far less than the file: it never held it whole.
    assert _peak_rss(app_process) - peak_before < size // 4
    with client.storage.download(key) as download:
        assert download.size == size
    page.close()


def _peak_rss(process: psutil.Process) -> int:
    """The process's peak resident memory so far (Linux's VmHWM), in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    pytest.skip("no VmHWM on this system")
