"""Keep the person's console for fednode: NVFlare's, transformers' and the other libraries' log lines go to a file.

``fednode demo``, ``fednode study`` and ``fednode experiment`` run NVFlare's admin API, transformers and torch in
process; each of them logs at INFO (NVFlare's cellnet alone writes hundreds of lines a run), and NVFlare also
prints its own chatter ("Connecting to FLARE ..."). Inside :func:`routed_logs`:

- the loggers in :data:`ROUTED` write only to ``<folder>/<command>.log`` (their console handlers, such as
  transformers' own, are detached and restored afterwards);
- fednode's own INFO lines go to that file too; its warnings and errors still reach the console;
- with ``capture_prints``, what libraries ``print`` (``sys.stdout``, ``sys.stderr``) goes to the file as well, so
  progress must be written through a console made by :func:`pinned_console` before entering.

The file is opened on the first line written: a command that fails before any library ran leaves no log behind.
The NVFlare participants the demo starts are separate processes: each writes its own ``log.txt`` and
``fednode-process.log`` inside its startup kit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console

ROUTED = (
    "nvflare",
    "transformers",
    "torch",
    "urllib3",
    "filelock",
    "datasets",
    "huggingface_hub",
    "presidio-analyzer",
    "py.warnings",
)
"""Loggers whose lines belong in the log file, never on the console."""
FEDNODE_LOGGER = "fednode"
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _LazyFile:
    """A text stream that creates its file on the first write (a command that logged nothing leaves none)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self.written = False

    def write(self, text: str) -> int:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
            self.written = True
        return self._file.write(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class LogRoute:
    """Where this command's library log lines went; ``written`` once anything did."""

    path: Path
    _stream: _LazyFile
    _saved: list[tuple[logging.Logger, list[logging.Handler], bool, int]] = field(default_factory=list)

    @property
    def written(self) -> bool:
        return self._stream.written


def pinned_console(console: Console) -> Console:
    """A console bound to the stream ``console`` writes to now, so that progress still shows while prints are
    captured into the log file."""
    return Console(file=console.file, width=console.width if console.is_terminal else None, highlight=False)


def _ml_libraries_configured() -> None:
    """Let torch and transformers attach their own stderr handlers now, so that they can be detached."""
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401  # its import sets handlers on its registered loggers
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as hf_logging

        hf_logging.get_logger()


def _library_loggers() -> list[logging.Logger]:
    """The routed loggers, and those below them that have handlers of their own (torch gives several one)."""
    found = [logging.getLogger(name) for name in ROUTED]
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.handlers and any(name.startswith(f"{top}.") for top in ROUTED):
            found.append(logger)
    return found


@contextlib.contextmanager
def routed_logs(
    folder: Path,
    command: str,
    *,
    level: str | int = logging.INFO,
    capture_prints: bool = False,
    ml: bool = False,
) -> Iterator[LogRoute]:
    """Send library log lines (and, with ``capture_prints``, their prints) to ``folder/<command>.log``.

    ``ml``: import torch and transformers' logging first (a few seconds), for commands that will load a model;
    their stderr handlers would otherwise attach themselves later, past this routing. The top loggers of
    :data:`ROUTED` log at ``level`` into the file meanwhile (the console keeps libraries at WARNING).
    """
    if isinstance(level, str):  # a settings value such as "info"
        named = logging.getLevelName(level.upper())
        level = named if isinstance(named, int) else logging.INFO
    if ml:
        _ml_libraries_configured()
    stream = _LazyFile(folder / f"{command}.log")
    route = LogRoute(folder / f"{command}.log", stream)
    handler = logging.StreamHandler(stream)  # a duck-typed text stream
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    fednode = logging.getLogger(FEDNODE_LOGGER)
    route._saved.append((fednode, list(fednode.handlers), fednode.propagate, fednode.level))
    fednode.addHandler(handler)
    for logger in _library_loggers():
        route._saved.append((logger, list(logger.handlers), logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        if logger.name in ROUTED:  # the CLI keeps libraries at WARNING on the console; the file gets their INFO
            logger.setLevel(level)
    consoles = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    console_levels = [h.level for h in consoles]
    for h in consoles:
        h.setLevel(max(h.level, logging.WARNING))
    logging.captureWarnings(True)
    redirect = contextlib.ExitStack()
    if capture_prints:
        redirect.enter_context(contextlib.redirect_stdout(stream))
        redirect.enter_context(contextlib.redirect_stderr(stream))
    try:
        with redirect:
            yield route
    finally:
        logging.captureWarnings(False)
        for h, lvl in zip(consoles, console_levels, strict=True):
            h.setLevel(lvl)
        for logger, handlers, propagate, lvl in route._saved:
            logger.handlers = handlers
            logger.propagate = propagate
            logger.setLevel(lvl)
        handler.flush()
        stream.close()


def where_logs_went(route: LogRoute, console: Any) -> None:
    """One line telling the person where the library log lines are (nothing when none were written)."""
    if route.written:
        console.print(f"library and NVFlare log lines: {route.path}", markup=False, highlight=False, soft_wrap=True)
