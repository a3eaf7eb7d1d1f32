"""The one place where a failed worker becomes an error dialog.

Every node that starts workers mixes in :class:`ReportsWorkerFailures`; its single ``Worker.StateChanged`` handler
(the message does not bubble, hence the mixin) shows the error in an :class:`~tui.screens.error_dialog.ErrorDialog`.
Workers are declared ``exit_on_error=False`` so a failure never takes the dashboard down.
"""

from __future__ import annotations

import logging

from textual import on
from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from fednode.errors import FednodeError
from tui.screens.error_dialog import ErrorDialog

log = logging.getLogger("fednode.tui.workers")


def describe(error: BaseException) -> tuple[str, str]:
    """A title and message for ``error`` that show no PHI: our errors carry safe messages, others their type."""
    if isinstance(error, FednodeError):
        return error.title, error.message
    return "Unexpected error", f"{type(error).__name__}: the operation failed; see the site log for details."


class ReportsWorkerFailures(DOMNode):
    """Mixin for widgets and screens that run workers: shows a failed worker's error in a modal dialog."""

    @on(Worker.StateChanged)
    def _report_worker_failure(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        title, message = describe(event.worker.error)
        log.warning("tui.worker_failed group=%s error=%s", event.worker.group, type(event.worker.error).__name__)
        self.app.push_screen(ErrorDialog(title, message))
