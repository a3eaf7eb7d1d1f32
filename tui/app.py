"""The dashboard app: a thin shell of tabs over the panes, and :func:`make_app`, its one factory."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, TabbedContent, TabPane

from fednode.clock import Clock, utc_now
from fednode.settings import Settings
from tui.desk import SiteDeskProtocol
from tui.screens.review import JobReviewScreen
from tui.widgets.audit_pane import AuditPane
from tui.widgets.data_pane import DataPane
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.policy_pane import PolicyPane
from tui.widgets.training_pane import TrainingPane

TABS = ("jobs", "training", "data", "audit", "policy")
"""Tab ids, in order; keys 1-5 switch to them."""


class FednodeApp(App[None]):
    """The site dashboard. Build it with :func:`make_app`."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "fednode"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        *(
            Binding(str(i), f"show_tab('{tab}')", tab.title(), show=False, id=f"app.tab.{tab}")
            for i, tab in enumerate(TABS, start=1)
        ),
    ]

    def __init__(self, settings: Settings, desk: SiteDeskProtocol, *, clock: Clock = utc_now) -> None:
        super().__init__()
        self.settings = settings
        self.desk = desk
        self.clock = clock

    def compose(self) -> ComposeResult:
        refresh_s = self.settings.tui.refresh_s
        yield Header()
        with TabbedContent(id="tabs", initial="jobs"):
            with TabPane("1 Jobs", id="jobs"):
                yield JobsPane(self.desk, refresh_s=refresh_s, clock=self.clock, id="jobs-pane")
            with TabPane("2 Training", id="training"):
                yield TrainingPane(self.desk, refresh_s=refresh_s, id="training-pane")
            with TabPane("3 Data", id="data"):
                yield DataPane(self.desk, id="data-pane")
            with TabPane("4 Audit", id="audit"):
                yield AuditPane(
                    self.desk,
                    export_dir=self.settings.exports_dir,
                    refresh_s=refresh_s,
                    clock=self.clock,
                    id="audit-pane",
                )
            with TabPane("5 Policy", id="policy"):
                yield PolicyPane(self.desk, id="policy-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"site {self.desk.site}"
        self.query_one("#jobs-table").focus()

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab and focus its main widget."""
        self.query_one("#tabs", TabbedContent).active = tab
        focus = {"jobs": "#jobs-table", "training": "#training-job", "data": "#data-pane", "audit": "#audit-table"}
        self.query_one(focus.get(tab, "#policy-files")).focus()

    @on(JobsPane.Open)
    def _open_review(self, message: JobsPane.Open) -> None:
        self.push_screen(JobReviewScreen(message.record, self.desk))


def make_app(settings: Settings, desk: SiteDeskProtocol, *, clock: Clock = utc_now) -> FednodeApp:
    """The one factory, used by ``fednode dashboard`` and by the tests."""
    return FednodeApp(settings, desk, clock=clock)
