"""Drive the real ``fednode dashboard`` in a detached tmux session (not a test module).

A private tmux server (its own socket) runs the command at 80x24; the test reads the screen with
``capture-pane`` and types with ``send-keys``, as a person at the hospital would over SSH.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import pyotp

from tui.screens.decision_dialog import HINTS

REPO = Path(__file__).resolve().parents[2]
FEDNODE = Path(sys.executable).with_name("fednode")
EXITED = "[dashboard exited "


def have_tmux() -> bool:
    return shutil.which("tmux") is not None


class TmuxDashboard:
    """One dashboard process in a private tmux server."""

    def __init__(self, home: Path, *, env: Mapping[str, str] | None = None, size: tuple[int, int] = (80, 24)) -> None:
        self.socket = f"fednode-test-{uuid.uuid4().hex[:8]}"
        self.home = home
        self.size = size
        # the checkout first on the path: the dashboard runs this tree's code whatever the install state
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {
            **os.environ,
            "FEDNODE_HOME": str(home),
            "TERM": "xterm-256color",
            "PYTHONPATH": path,
            **(env or {}),
        }
        self.env.pop("FEDNODE_CONFIG", None)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], env=self.env, check=check, capture_output=True, text=True, timeout=30
        )

    def start(self, *command: str) -> None:
        """Run ``fednode dashboard`` (or ``command``) in a new detached session."""
        argv = command or (str(FEDNODE), "dashboard")
        width, height = self.size
        # the shell prints the exit status and keeps the pane, so the test can see how the dashboard ended
        script = f'{shlex.join(argv)}; echo "{EXITED}$?]"; sleep 600'
        self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            str(width),
            "-y",
            str(height),
            "sh",
            "-c",
            script,
        )

    def screen(self) -> str:
        """The visible screen as plain text."""
        return self._tmux("capture-pane", "-p", "-t", "dash").stdout

    def wait_for(self, text: str, *, timeout: float = 60.0) -> str:
        """Wait until ``text`` is on the screen; returns the screen."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen within {timeout} s; screen:\n{shown}")
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        """Press tmux key names (``Enter``, ``Escape``, ``a``)."""
        self._tmux("send-keys", "-t", "dash", *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally."""
        self._tmux("send-keys", "-t", "dash", "-l", text)

    def field(self, text: str, *, then: str | None = None) -> None:
        """Type a form field and press Enter; with ``then``, wait until it is on screen (the next field's hint).

        Textual moves focus in a message handler, after keys already queued went to the old field: a test must
        wait for the focus to move, as a person's eyes do, before it types the next field.
        """
        self.type(text)
        self.keys("Enter")
        if then is not None:
            self.wait_for(then)

    def approve(self, approver: str, reason: str, totp_secret: str) -> None:
        """Open the approve dialog on the job in view and fill it: approver, reason, a current TOTP code (the
        dashboard runs on the real clock)."""
        self.keys("a")
        self.wait_for(HINTS["approver"])
        self.field(approver, then=HINTS["reason"])
        self.field(reason, then=HINTS["totp"])
        self.field(pyotp.TOTP(totp_secret).now())

    def exit_code(self, *, timeout: float = 15.0) -> int:
        """Wait for the dashboard to end; its exit status."""
        shown = self.wait_for(EXITED, timeout=timeout)
        return int(shown.split(EXITED, 1)[1].split("]", 1)[0])

    def close(self) -> None:
        """Stop this test's tmux server (and the dashboard with it)."""
        self._tmux("kill-server", check=False)
