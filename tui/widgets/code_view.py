"""One file of a job, read-only, syntax-highlighted, with the static-scan findings marked at their lines.

A denial (``severity == "deny"``) is a red band and ``! line N``; a warning (``"warn"``: the scan could not decide
and the sandbox enforces it at run time; it never blocks approval) is a yellow band and ``? line N``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from policies.contracts import Finding, ManifestFile
from tui.format import short_digest

FINDING_STYLE = "on #5f0000"
WARNING_STYLE = "on #5f5f00"
MARK = {"warn": ("?", "bold yellow", WARNING_STYLE)}
"""Severity -> (mark, header style, line band); anything else is a denial."""
DENIAL = ("!", "bold red", FINDING_STYLE)


def is_warning(finding: Finding) -> bool:
    """Whether ``finding`` only warns (never denies)."""
    return finding.severity == "warn"


def render_file(file: ManifestFile, findings: Sequence[Finding]) -> RenderableType:
    """The file's text with line numbers, finding lines highlighted, and the findings listed above it."""
    here = sorted((f for f in findings if f.file == file.path), key=lambda f: f.line)
    header = Text()
    header.append(f"{file.path}", style="bold")
    header.append(f"  sha256 {short_digest(file.sha256)}  {file.size} B\n", style="dim")
    for finding in here:
        mark, style, _ = MARK.get(finding.severity, DENIAL)
        header.append(f"  {mark} line {finding.line} [{finding.capability}] ", style=style)
        header.append(f"{finding.message}\n")
    if file.content is None:
        return Group(header, Text("binary file: not shown (the gate refuses compiled files)", style="italic"))
    lexer = Syntax.guess_lexer(file.path, file.content)
    syntax = Syntax(
        file.content,
        lexer,
        line_numbers=True,
        theme="monokai",
        word_wrap=False,
        highlight_lines={f.line for f in here},
        indent_guides=False,
    )
    # a visible band on each finding's line, beyond Syntax's subtle highlight; a denial wins over a warning
    for finding in sorted(here, key=lambda f: not is_warning(f)):
        syntax.stylize_range(MARK.get(finding.severity, DENIAL)[2], (finding.line, 0), (finding.line + 1, 0))
    return Group(header, syntax)


class CodeView(VerticalScroll, can_focus=True):
    """A scrollable, read-only view of one manifest file."""

    DEFAULT_CSS = """
    CodeView { height: 1fr; }
    CodeView > Static { width: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Select a file.", id="code-body")

    def show(self, file: ManifestFile, findings: Sequence[Finding]) -> None:
        """Show ``file`` with the findings that point into it."""
        self.query_one("#code-body", Static).update(render_file(file, findings))
        self.scroll_home(animate=False)
