"""The file tree of a job's app, built from its manifest."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from policies.contracts import JobManifest, ManifestFile
from tui.format import size


class ManifestTree(Tree[ManifestFile]):
    """Folders and files of the job as submitted; a file node's ``data`` is its :class:`ManifestFile`."""

    DEFAULT_CSS = """
    ManifestTree { width: 26; border-right: solid $primary-darken-2; }
    """

    def __init__(self, manifest: JobManifest, *, id: str | None = None) -> None:  # Textual's name
        super().__init__(Text(manifest.app_name or manifest.job_id), id=id)
        self.manifest = manifest
        self.show_root = True
        self.guide_depth = 2
        folders: dict[tuple[str, ...], TreeNode[ManifestFile]] = {(): self.root}
        for file in sorted(manifest.files, key=lambda f: f.path):
            parts = tuple(file.path.split("/"))
            for depth in range(1, len(parts)):
                key = parts[:depth]
                if key not in folders:
                    folders[key] = folders[key[:-1]].add(Text(key[-1] + "/"), expand=True)
            label = parts[-1] if file.content is not None else f"{parts[-1]} (binary, {size(file.size)})"
            folders[parts[:-1]].add_leaf(Text(label), data=file)
        self.root.expand()

    def files(self) -> list[TreeNode[ManifestFile]]:
        """File nodes in tree order."""
        found: list[TreeNode[ManifestFile]] = []
        stack = [self.root]
        while stack:
            node = stack.pop(0)
            if node.data is not None:
                found.append(node)
            stack = list(node.children) + stack
        return found

    def first_to_read(self, flagged: set[str]) -> TreeNode[ManifestFile] | None:
        """The file a reviewer should see first: one with scan findings, else the first Python file, else any."""
        nodes = self.files()
        for wanted in (
            lambda n: n.data is not None and n.data.path in flagged,
            lambda n: n.data is not None and n.data.path.endswith(".py"),
            lambda n: True,
        ):
            match = next((n for n in nodes if wanted(n)), None)
            if match is not None:
                return match
        return None
