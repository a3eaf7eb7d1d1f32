"""The public harness for driving a local federation: what the demo, the tests and bench/ share.

A local federation is prepared by :func:`node.local.demo.prepare_consortium` (provisioned kits, one fednode home
per site, data loaded as the operator would) and reports its progress through :class:`Steps`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

log = logging.getLogger("fednode.node.local.harness")


class Steps:
    """Progress lines on the console (stderr when --json), and how long each step took."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        log.debug("harness.step %s", message)
        if self.enabled:
            self.console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim] {message}", highlight=False)

    @contextmanager
    def step(self, message: str, timings: dict[str, float], key: str) -> Iterator[None]:
        self.say(f"[bold]{message}[/bold] ...")
        t0 = time.monotonic()
        yield
        timings[key] = round(time.monotonic() - t0, 2)
        self.say(f"{message}: done in {timings[key]:.1f} s")
