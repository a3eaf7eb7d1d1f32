"""The one clock: an injectable time source, and the default one.

Code that needs the time takes a :data:`Clock` argument defaulting to :func:`utc_now`; tests pass a fixed one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Injectable time source; always returns an aware UTC datetime."""


def utc_now() -> datetime:
    """The default clock: now, in UTC."""
    return datetime.now(UTC)


__all__ = ["Clock", "utc_now"]
