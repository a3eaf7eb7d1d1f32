"""The log routing of `fednode demo|study|experiment`: library log lines and prints go to the command's log file,
fednode's own warnings still reach the console, and a command that logged nothing leaves no file."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.local.logs import routed_logs


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """A console handler on the root logger, as `fednode`'s own logging set-up installs one."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_library_lines_and_prints_go_to_the_file_and_fednode_warnings_to_the_console(
    tmp_path: Path, console: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    with routed_logs(tmp_path / "logs", "demo", capture_prints=True, ml=True) as route:
        logging.getLogger("nvflare.fuel.f3.cellnet.core_cell.CoreCell").info("created backbone connector")
        logging.getLogger("transformers.modeling_utils").warning("some weights were not initialized")
        logging.getLogger("urllib3.connectionpool").info("starting new connection")
        print("Connecting to FLARE ...")
        logging.getLogger("fednode.node.local.demo").info("demo.step provisioned")
        logging.getLogger("fednode.node.local.demo").warning("demo.slow_site site=site-2")
    captured = capsys.readouterr()
    shown = console.getvalue() + captured.out + captured.err
    assert "created backbone connector" not in shown
    assert "some weights were not initialized" not in shown
    assert "Connecting to FLARE" not in shown
    assert "demo.step provisioned" not in shown  # fednode's INFO lines are for the log
    assert "demo.slow_site site=site-2" in console.getvalue()  # its warnings are for the person
    logged = route.path.read_text(encoding="utf-8")
    assert route.path == tmp_path / "logs" / "demo.log" and route.written
    for line in (
        "INFO nvflare.fuel.f3.cellnet.core_cell.CoreCell created backbone connector",
        "WARNING transformers.modeling_utils some weights were not initialized",
        "INFO urllib3.connectionpool starting new connection",
        "Connecting to FLARE ...",
        "demo.step provisioned",
        "demo.slow_site",
    ):
        assert line in logged


def test_the_routing_is_undone_afterwards(tmp_path: Path, console: io.StringIO) -> None:
    nvflare = logging.getLogger("nvflare")
    before = (list(nvflare.handlers), nvflare.propagate, nvflare.level)
    with routed_logs(tmp_path, "study"):
        pass
    assert (list(nvflare.handlers), nvflare.propagate, nvflare.level) == before
    logging.getLogger("nvflare.x").warning("after the command")
    assert "after the command" in console.getvalue()


def test_a_command_that_logged_nothing_leaves_no_file(tmp_path: Path) -> None:
    with routed_logs(tmp_path / "logs", "study", capture_prints=True) as route:
        pass
    assert not route.written
    assert not (tmp_path / "logs").exists()


def test_a_settings_level_in_any_case_is_understood(tmp_path: Path, console: io.StringIO) -> None:
    with routed_logs(tmp_path, "study", level="info") as route:
        logging.getLogger("nvflare.x").info("connected")
    assert "connected" in route.path.read_text(encoding="utf-8")
