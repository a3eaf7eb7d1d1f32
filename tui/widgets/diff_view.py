"""The difference between a job and the last approved job of the same study (difflib, rendered by Rich)."""

from __future__ import annotations

import difflib

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from policies.contracts import JobManifest, JobRecord
from tui.format import short_digest

_LINE_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def _texts(manifest: JobManifest) -> dict[str, list[str]]:
    return {
        f.path: (f.content if f.content is not None else f"<binary sha256 {f.sha256}>\n").splitlines(keepends=True)
        for f in manifest.files
    }


def render_diff(current: JobManifest, baseline: JobRecord | None) -> RenderableType:
    """A per-file unified diff of ``current`` against ``baseline``'s manifest, with a one-line summary."""
    if baseline is None:
        return Text(
            f"No approved job of study {current.study!r} yet: every file is new. Review them all under Code.",
            style="italic",
        )
    old, new = _texts(baseline.manifest), _texts(current)
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    changed = sorted(p for p in new.keys() & old.keys() if new[p] != old[p])
    summary = Text()
    summary.append(
        f"against {baseline.job_id} (approved, digest {short_digest(baseline.manifest.digest)}): ", style="bold"
    )
    summary.append(f"{len(changed)} changed, {len(added)} added, {len(removed)} removed\n")
    if not (added or removed or changed):
        summary.append("The code is identical to the approved version.", style="green")
        return summary
    body = Text()
    for path in sorted(added + removed + changed):
        lines = difflib.unified_diff(
            old.get(path, []), new.get(path, []), fromfile=f"a/{path}", tofile=f"b/{path}", n=3
        )
        for line in lines:
            style = next((s for prefix, s in _LINE_STYLES if line.startswith(prefix)), "")
            body.append(line if line.endswith("\n") else line + "\n", style=style)
    return Group(summary, body)


class DiffView(VerticalScroll, can_focus=True):
    """Scrollable diff of the reviewed job against the last approved version of its study."""

    DEFAULT_CSS = """
    DiffView { height: 1fr; }
    DiffView > Static { width: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Loading the last approved version...", id="diff-body")

    def show(self, current: JobManifest, baseline: JobRecord | None) -> None:
        """Render the diff of ``current`` against ``baseline``."""
        self.query_one("#diff-body", Static).update(render_diff(current, baseline))
