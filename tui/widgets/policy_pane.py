"""The site policy as loaded, whether it validates, and the NVFlare site files it compiles to."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.desk import PolicyReport, SiteDeskProtocol, TextFileView
from tui.format import short_digest
from tui.workers import ReportsWorkerFailures


def validation_line(report: PolicyReport) -> Text:
    """``policy valid`` (and whether the deployed site files match it), or why it is invalid."""
    if report.problems:
        text = Text(f"policy INVALID ({len(report.problems)} problems): ", style="bold red")
        text.append("; ".join(report.problems[:3]), style="")
        return text
    text = Text(f"policy valid: {report.source.name} · digest {short_digest(report.digest)}", style="bold green")
    if report.drift:
        text.append("\nsite files out of date (run `fednode policy compile`): ", style="bold yellow")
        text.append("; ".join(report.drift), style="")
    else:
        text.append(" · site files up to date", style="green")
    return text


def render_file(file: TextFileView) -> RenderableType:
    """A policy or compiled file, highlighted by its extension."""
    lexer = Syntax.guess_lexer(file.name, file.text)
    return Group(
        Text(file.name, style="bold"), Syntax(file.text, lexer, line_numbers=True, theme="monokai", word_wrap=False)
    )


class PolicyPane(ReportsWorkerFailures, Vertical):
    """Validation on top; pick a file on the left (the policy first), read it on the right."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reload", "Reload", id="policy.reload"),
    ]

    class Loaded(Message):
        """The policy report arrived."""

        def __init__(self, report: PolicyReport) -> None:
            super().__init__()
            self.report = report

    def __init__(self, desk: SiteDeskProtocol, *, id: str | None = None) -> None:  # Textual's name
        super().__init__(id=id)
        self.desk = desk
        self.files: list[TextFileView] = []
        self.report: PolicyReport | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading the site policy...", id="policy-status")
        with Horizontal():
            yield OptionList(id="policy-files")
            with VerticalScroll(id="policy-view", can_focus=True):
                yield Static("", id="policy-body")

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        """Load, validate and compile the policy again."""
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="policy")
    def load(self) -> None:
        """Ask the desk for the policy report."""
        self.post_message(self.Loaded(self.desk.policy()))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        report = self.report = message.report
        self.query_one("#policy-status", Static).update(validation_line(report))
        self.files = [report.source, *report.compiled]
        options = self.query_one("#policy-files", OptionList)
        options.clear_options()
        options.add_options(
            Option(Text(f.name if i else f"{f.name} (policy)"), id=str(i)) for i, f in enumerate(self.files)
        )
        options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#policy-files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        index = event.option_index
        if 0 <= index < len(self.files):
            self.query_one("#policy-body", Static).update(render_file(self.files[index]))
