"""``aerostack-async chat`` in a real terminal (tmux): Ctrl-C stops a reply, not the session.

The command runs in a tmux pane (a real pty, with the terminal's own Ctrl-C handling: the
driver turns the key into SIGINT for the foreground process) against an emulator that paces
its tokens, so a reply is still arriving when the key is sent.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aerostack_async import Aerostack
from aerostack_async.testing import Emulator, run_emulator

TMUX = shutil.which("tmux")
MAX_TOKENS = 24  # replies of 24 tokens, 150 ms apart: several seconds to interrupt one in

if TMUX is None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("tmux is missing; .ci/run installs it", pytrace=False)
    pytest.skip("tmux is not installed (apt-get install tmux)", allow_module_level=True)


@pytest.fixture(scope="module")
def paced_emulator() -> Iterator[Emulator]:
    """An emulator that streams a token every 150 ms."""
    with run_emulator("--ai-token-delay-ms", "150") as running:
        yield running


# The command as its console script runs it (main() with the arguments), writing its exit
# status to a file first; an exception other than SystemExit is written by name (never an int).
_LAUNCH = """
import sys
from aerostack_async.cli import main
status_file = sys.argv.pop(1)
status = "0"
try:
    main()
except SystemExit as exc:
    status = str(exc.code if isinstance(exc.code, int) else 1)
    raise
except BaseException as exc:
    status = type(exc).__name__
    raise
finally:
    with open(status_file, "w") as file:
        file.write(status)
"""


class Terminal:
    """One tmux pane running a command, on a tmux server of its own."""

    def __init__(self, socket: Path, command: list[str]) -> None:
        self.socket = socket
        self.status_file = socket.with_suffix(".status")
        config = socket.with_suffix(".conf")
        # The pane stays after the command ends, so its exit status can be read.
        config.write_text("set -g remain-on-exit on\nset -g history-limit 5000\n")
        # The pane's own size, not the test run's COLUMNS; no key or URL settings; no outer tmux.
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in ("AEROSTACK_API_KEY", "AEROSTACK_BASE_URL", "COLUMNS", "LINES")
            and not name.startswith("TMUX")
        }
        env["TERM"] = "xterm-256color"
        self._tmux(
            "-f", str(config), "new-session", "-d", "-x", "200", "-y", "50", "-s", "chat",
            shlex.join([sys.executable, "-c", _LAUNCH, str(self.status_file), *command]),
            env=env,
        )  # fmt: skip

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        assert TMUX is not None
        done = subprocess.run(
            [TMUX, "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            timeout=30,
        )
        return done.stdout

    def screen(self) -> str:
        """What the pane shows (wrapped lines joined), trailing blanks dropped."""
        text = self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "chat")
        return "\n".join(line.rstrip() for line in text.splitlines()).rstrip()

    def type(self, text: str) -> None:
        """Type ``text`` and press Enter."""
        self._tmux("send-keys", "-t", "chat", "-l", text)
        self._tmux("send-keys", "-t", "chat", "Enter")

    def press(self, key: str) -> None:
        """Press one key, in tmux's names (``C-c``, ``C-d``)."""
        self._tmux("send-keys", "-t", "chat", key)

    def exit_status(self) -> str | None:
        """The command's exit status (or the exception that ended it) once it ended, else None."""
        # tmux 3.3 at times leaves an ended command unreaped, with no status to show: the
        # command writes its own (see _LAUNCH), and the pane is dead once its pty is closed.
        dead = self._tmux("display-message", "-p", "-t", "chat", "#{pane_dead}").strip()
        if dead != "1" or not self.status_file.exists():
            return None
        return self.status_file.read_text()

    def wait_for(self, what: str, ready: Callable[[str], bool], timeout: float = 30) -> str:
        """Poll the screen until ``ready(screen)``; fail with the screen if it never is."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ready(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}; the screen:\n{screen}")
            time.sleep(0.05)

    def wait_for_exit(self) -> str:
        """The command's exit status, once it has ended."""
        self.wait_for("the command to end", lambda _: self.exit_status() is not None)
        status = self.exit_status()
        assert status is not None
        return status

    def close(self) -> None:
        """Stop the tmux server and whatever still runs in it."""
        subprocess.run(
            [TMUX or "tmux", "-S", str(self.socket), "kill-server"],
            capture_output=True,
            check=False,
            timeout=30,
        )


@pytest.fixture
def terminal(paced_emulator: Emulator, tmp_path: Path) -> Iterator[Terminal]:
    """``aerostack-async chat`` running at a prompt in a fresh tmux pane."""
    command = [
        "chat", "--base-url", paced_emulator.base_url, "--api-key", paced_emulator.api_key,
        "--max-tokens", str(MAX_TOKENS),
    ]  # fmt: skip
    term = Terminal(tmp_path / "tmux.sock", command)
    try:
        term.wait_for("the first prompt", lambda s: s.endswith("you>"))
        yield term
    finally:
        term.close()


def _prompts(screen: str) -> int:
    return len(re.findall(r"^you> ?", screen, flags=re.MULTILINE))


def _reply_lines(screen: str) -> list[str]:
    """The text of every ``ai>`` line, without the ``^C`` the terminal echoed into it."""
    return [
        line.removeprefix("ai> ").replace("^C", "")
        for line in screen.splitlines()
        if line.startswith("ai> ")
    ]


def _plain_reply(emulator: Emulator, messages: list[dict[str, str]]) -> str:
    with Aerostack(api_key=emulator.api_key, base_url=emulator.base_url) as client:
        completion = client.ai.chat(messages, max_tokens=MAX_TOKENS)
    content = completion.choices[0].message.content
    assert content is not None
    return content


def test_ctrl_c_stops_the_reply_and_the_next_question_is_answered(
    terminal: Terminal, paced_emulator: Emulator
) -> None:
    first, second = "Tell me about message queues in distributed systems", "And caches?"
    full_first = _plain_reply(paced_emulator, [{"role": "user", "content": first}])

    terminal.type(first)
    # A few tokens in (of 24, 150 ms apart), the reply is still arriving: press Ctrl-C.
    terminal.wait_for("the reply to start", lambda s: any(len(r) >= 12 for r in _reply_lines(s)))
    terminal.press("C-c")
    screen = terminal.wait_for(
        "the prompt after the stopped reply",
        lambda s: "(reply stopped)" in s and _prompts(s) == 2 and s.endswith("you>"),
    )

    [partial] = _reply_lines(screen)
    assert "^C" in screen  # the terminal's own echo of the key: a real Ctrl-C
    assert full_first.startswith(partial)
    assert len(partial) < len(full_first)  # stopped half-way, not after the whole reply
    assert terminal.exit_status() is None  # the session goes on

    terminal.type(second)
    screen = terminal.wait_for("the second reply", lambda s: _prompts(s) == 3)

    # The stopped reply stays in the conversation as far as it was shown.
    expected = _plain_reply(
        paced_emulator,
        [
            {"role": "user", "content": first},
            {"role": "assistant", "content": partial},
            {"role": "user", "content": second},
        ],
    )
    assert _reply_lines(screen)[1] == expected

    terminal.press("C-c")  # at the prompt: leave
    assert terminal.wait_for_exit() == "130"
    screen = terminal.screen()
    assert "Traceback" not in screen
    assert "error:" not in screen
    assert "Fatal Python error" not in screen


def test_ctrl_d_at_the_prompt_leaves_with_status_0(terminal: Terminal) -> None:
    terminal.press("C-d")

    assert terminal.wait_for_exit() == "0"
    assert "Traceback" not in terminal.screen()


def test_ctrl_c_at_the_first_prompt_leaves_at_once(terminal: Terminal) -> None:
    terminal.press("C-c")

    assert terminal.wait_for_exit() == "130"
    screen = terminal.screen()
    assert "Traceback" not in screen
    assert "error:" not in screen
