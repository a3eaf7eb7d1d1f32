"""What the site lets a job's own code do: sandbox paths, network and limits, the staged data, the site's DP."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.desk import ByocReviewView, SandboxLimitsView

LOADING = "Reading what the sandbox allows..."


def render_limits(limits: SandboxLimitsView) -> str:
    """The policy's limits in one line (``none`` where the policy sets no limit)."""
    memory = f"{limits.memory_mib} MiB" if limits.memory_mib is not None else "none"
    cpu = f"{limits.cpu_minutes} min" if limits.cpu_minutes is not None else "none"
    return (
        f"memory {memory} per process, {limits.max_processes} processes/threads, run time {limits.wall_minutes} min, "
        f"CPU time {cpu}, largest file {limits.file_size_mib} MiB"
    )


def _line(label: str, text: str, style: str = "") -> Text:
    line = Text()
    line.append(f"{label:<10}", style="bold")
    line.append(text, style=style)
    return line


def render_sandbox(review: ByocReviewView) -> RenderableType:
    """Every fact of ``review``, top to bottom: what runs, where it may read and write, network, limits, data, DP."""
    parts: list[RenderableType] = [Text(note, style="italic") for note in review.notes]
    if review.byoc:
        parts.append(
            _line("runs", f"python -u {review.script}")
            if review.script is not None
            else _line("runs", f"cannot run confined: {review.config_problem}", "bold red")
        )
    scan = Text()
    scan.append(f"{'scan':<10}", style="bold")
    scan.append(f"{len(review.denials)} denied", style="bold red" if review.denials else "green")
    scan.append(", ")
    scan.append(f"{len(review.warnings)} warnings", style="yellow" if review.warnings else "green")
    if review.warnings:
        scan.append(" (shown at their lines; they do not block approval: the sandbox enforces them at run time)")
    parts.append(scan)

    paths = Table(title="the job's process may use", title_justify="left", expand=True, box=None, pad_edge=False)
    paths.add_column("path", no_wrap=True)
    paths.add_column("access", no_wrap=True)
    paths.add_column("what", ratio=1)
    for p in review.paths:
        paths.add_row(Text(p.path), Text(p.access, style="yellow" if p.access == "read-write" else "green"), p.what)
    parts.append(paths)
    parts.append(_line("never", ", ".join(review.never), "red"))
    parts.append(_line("network", review.network))
    parts.append(_line("limits", render_limits(review.limits)))

    staged = review.staged
    parts.append(_line("data", ", ".join(staged.files)))
    for table in staged.tables:
        parts.append(_line("", f"from {table.table}: {', '.join(table.columns)}"))
    count = Text()
    count.append(f"{'records':<10}", style="bold")
    if staged.records is None:
        count.append("not known", style="yellow")
    else:
        count.append(str(staged.records), style="green" if staged.records >= staged.min_records else "bold red")
    count.append(f" annotated notes (the policy needs at least {staged.min_records})")
    parts.append(count)
    if staged.refusal:
        parts.append(_line("", staged.refusal, "bold red"))

    dp = review.site_dp
    head = "site adds DP noise at egress" if dp.applied else "no site DP noise at egress"
    dp_line = Text()
    dp_line.append(f"{'site DP':<10}", style="bold")
    dp_line.append(head, style="green" if dp.applied else ("bold red" if dp.required else "yellow"))
    dp_line.append(f": {dp.summary}")
    parts.append(dp_line)
    return Group(*parts)


class SandboxView(VerticalScroll, can_focus=True):
    """Scrollable sandbox facts of one job (``show`` them once the desk has read them)."""

    DEFAULT_CSS = """
    SandboxView { height: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # Textual's name
        super().__init__(id=id)
        self.review: ByocReviewView | None = None

    def compose(self) -> ComposeResult:
        yield Static(LOADING, id="sandbox-body")

    def show(self, review: ByocReviewView | None) -> None:
        """Show ``review``; None: the site has no policy to judge by."""
        self.review = review
        body = render_sandbox(review) if review is not None else Text("No site policy: nothing to show.")
        self.query_one("#sandbox-body", Static).update(body)
