"""The AST walk: resolve every name through the module's imports and aliases, then classify it.

Two passes per file. The first collects aliases flow-insensitively (``import os as o``,
``from subprocess import run as r``, ``m = os``, ``e = eval``) until nothing changes. The second visits
every expression: a name or attribute chain that resolves to something in :mod:`._tables` is a finding;
so are calls whose danger depends on their arguments (``open``, ``getattr``, ``torch.load``, ...).
Constant string expressions are folded (``"ev" + "al"``, ``"".join([...])``, f-strings of constants) so
that ``getattr(__builtins__, "ev" + "al")`` resolves to ``builtins.eval``; anything not foldable counts
as a computed name, which on a module is itself a finding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import PurePosixPath

from policies.codescan._tables import (
    BUILTIN_NAMES,
    ESCAPE_DUNDERS,
    PATH_WRITE_METHODS,
    SENSITIVE_MODULES,
    classify,
)
from policies.contracts import Finding
from policies.policy_model import Capability

UNREVIEWABLE = "unreviewable"
"""Capability name of a finding for a file that cannot be parsed or read as text (always refused)."""

# Names whose danger depends on how they are called; the call check decides, not the name visit.
_CONDITIONAL: dict[str, Capability] = {
    "torch.load": Capability.DESERIALISATION,
    "numpy.load": Capability.DESERIALISATION,
    "yaml.load": Capability.DESERIALISATION,
    "builtins.open": Capability.FILESYSTEM,
    "io.open": Capability.FILESYSTEM,
    "codecs.open": Capability.FILESYSTEM,
    "builtins.getattr": Capability.DYNAMIC_CODE,
    "builtins.setattr": Capability.DYNAMIC_CODE,
    "builtins.delattr": Capability.DYNAMIC_CODE,
}
_SAFE_YAML_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"})


def scan_source(source: str, path: str) -> list[Finding]:
    """All findings for one Python file's text; ``path`` is the file's path as the manifest names it."""
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        return [Finding(path, line, UNREVIEWABLE, "the file is not valid Python and cannot be reviewed")]
    scanner = _Scanner(path, _collect_aliases(tree, source))
    scanner.visit(tree)
    return scanner.findings


def _binding_nodes(tree: ast.Module, source: str) -> Iterator[ast.AST]:
    """Statements that can bind a name to an import (every nesting level), plus walrus expressions if any."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(c for c in children if isinstance(c, ast.AST))
    if ":=" in source:
        yield from (n for n in ast.walk(tree) if isinstance(n, ast.NamedExpr))


def _collect_aliases(tree: ast.Module, source: str) -> dict[str, str]:
    aliases: dict[str, str] = {}
    assigns: list[tuple[str, ast.expr]] = []
    for node in _binding_nodes(tree, source):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    root = a.name.split(".")[0]
                    aliases.setdefault(root, root)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                if a.name != "*":
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and _aliasable(node.value):
                    assigns.append((target.id, node.value))
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    assigns.extend(
                        (t.id, v)
                        for t, v in zip(target.elts, node.value.elts, strict=False)
                        if isinstance(t, ast.Name) and _aliasable(v)
                    )
    changed = True
    while changed:
        changed = False
        for name, value in assigns:
            resolved = _resolve(value, aliases)
            if resolved is not None and aliases.get(name) != resolved:
                aliases[name] = resolved
                changed = True
    return aliases


def _aliasable(node: ast.expr) -> bool:
    """Only names, attribute chains and ``getattr``/subscript forms can stand for an imported object."""
    return isinstance(node, ast.Name | ast.Attribute | ast.Subscript) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
    )


def _resolve(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """The dotted name an expression stands for, if it is built from imported names and attributes."""
    if isinstance(node, ast.Name):
        if node.id in aliases:
            return aliases[node.id]
        if node.id == "__builtins__":
            return "builtins"
        return f"builtins.{node.id}" if node.id in BUILTIN_NAMES else None
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, aliases)
        return f"{base}.{node.attr}" if base is not None else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and "getattr" not in aliases
    ):
        base = _resolve(node.args[0], aliases)
        attr = fold_constant(node.args[1])
        if base is not None and attr is not None:
            return f"{base}.{attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call):
        # __builtins__.__dict__["eval"], vars(builtins)["exec"], globals()["__builtins__"]
        key = fold_constant(node.slice)
        base = _resolve(node.value.func, aliases)
        if key is not None and base in {"builtins.vars", "builtins.globals"} and node.value.args:
            inner = _resolve(node.value.args[0], aliases)
            return f"{inner}.{key}" if inner else None
    return None


def fold_constant(node: ast.expr) -> str | None:
    """The string value of a constant string expression, or None when it is computed at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = fold_constant(node.left), fold_constant(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                inner = fold_constant(v.value)
                if inner is None or v.format_spec is not None or v.conversion not in (-1, ord("s")):
                    return None
                parts.append(inner)
            else:
                text = fold_constant(v)
                if text is None:
                    return None
                parts.append(text)
        return "".join(parts)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List | ast.Tuple)
    ):
        sep = fold_constant(node.func.value)
        items = [fold_constant(e) for e in node.args[0].elts]
        if sep is not None and all(i is not None for i in items):
            return sep.join(i for i in items if i is not None)
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, aliases: dict[str, str]) -> None:
        self.path = path
        self.aliases = aliases
        self.findings: list[Finding] = []
        self._seen: set[tuple[int, str, str]] = set()
        self._handled: set[int] = set()  # ids of nodes a call check already judged
        self._call_funcs: set[int] = set()  # ids of expressions that are called (``f`` in ``f(x)``)
        self._imports_pathlib = any(v == "pathlib" or v.startswith("pathlib.") for v in aliases.values())

    def _add(self, node: ast.AST, capability: str, message: str) -> None:
        line = getattr(node, "lineno", 1)
        key = (line, capability, message)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(Finding(self.path, line, capability, message))

    def _flag_name(self, node: ast.AST, name: str) -> bool:
        if name in _CONDITIONAL:
            if id(node) in self._call_funcs or isinstance(node, ast.Import | ast.ImportFrom | ast.Call):
                return False  # judged by the call check, which sees the arguments
            capability = _CONDITIONAL[name]
            self._add(node, capability.value, f"{name} used as a value: its arguments cannot be checked")
            return True
        hit = classify(name)
        if hit is None:
            return False
        capability, why = hit
        self._add(node, capability.value, f"{name}: {why}")
        return True

    # imports ---------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._flag_name(node, a.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # the job's own modules: scanned as files of their own
        for a in node.names:
            if a.name == "*":
                if not self._flag_name(node, node.module) and node.module in SENSITIVE_MODULES:
                    self._add(node, Capability.DYNAMIC_CODE.value, f"from {node.module} import *: hides which names")
            else:
                self._flag_name(node, f"{node.module}.{a.name}") or self._flag_name(node, node.module)

    # names and attributes ----------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if id(node) in self._handled:
            return
        resolved = _resolve(node, self.aliases)
        if resolved is not None:
            self._flag_name(node, resolved)
            if resolved in SENSITIVE_MODULES and isinstance(node.ctx, ast.Load):
                self._add(node, Capability.DYNAMIC_CODE.value, f"module {resolved} used as a value hides what it calls")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if id(node) in self._handled:
            return
        if node.attr in ESCAPE_DUNDERS or (node.attr == "__dict__" and _resolve(node.value, self.aliases)):
            self._add(node, Capability.DYNAMIC_CODE.value, f"attribute {node.attr} reaches interpreter internals")
        resolved = _resolve(node, self.aliases)
        if resolved is not None and self._flag_name(node, resolved):
            return  # the whole chain is judged; do not report its prefixes again
        if resolved is not None:
            self._mark_chain(node.value)
        self.generic_visit(node)

    def _mark_chain(self, node: ast.expr) -> None:
        """Attribute access on a sensitive module (``os.path``) is not the module escaping as a value."""
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Name):
            resolved = _resolve(node, self.aliases)
            if resolved is not None:
                self._flag_name(node, resolved)
            self._handled.add(id(node))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        resolved = _resolve(node, self.aliases)
        if resolved is not None:
            self._flag_name(node, resolved)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # ``m = os`` is an alias, tracked in pass one; not an escape of the module.
        if isinstance(node.value, ast.Name) and all(isinstance(t, ast.Name) for t in node.targets):
            self._handled.add(id(node.value))
            resolved = _resolve(node.value, self.aliases)
            if resolved is not None:
                self._flag_name(node.value, resolved)
        self.generic_visit(node)

    # calls whose danger depends on their arguments ---------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self._call_funcs.add(id(node.func))
        func = _resolve(node.func, self.aliases)
        if func == "builtins.getattr" or func in {"builtins.setattr", "builtins.delattr", "builtins.hasattr"}:
            self._check_getattr(node, func)
        elif func in {"builtins.open", "io.open", "codecs.open", "pathlib.Path", "pathlib.PurePath"}:
            self._check_path_arg(node, func)
        elif func == "torch.load":
            if not _kw_is(node, "weights_only", True):
                self._add(node, Capability.DESERIALISATION.value, "torch.load without weights_only=True unpickles")
        elif func == "numpy.load":
            if _kw_is(node, "allow_pickle", True) or not _kw_is_const_or_absent(node, "allow_pickle"):
                self._add(node, Capability.DESERIALISATION.value, "numpy.load with allow_pickle unpickles")
        elif func == "yaml.load":
            loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            name = _resolve(loader, self.aliases) if loader is not None else None
            if name is None or name.rsplit(".", 1)[-1] not in _SAFE_YAML_LOADERS:
                self._add(node, Capability.DESERIALISATION.value, "yaml.load without a safe loader builds objects")
        elif func in {"builtins.vars", "builtins.dir"} and node.args:
            target = _resolve(node.args[0], self.aliases)
            if target in SENSITIVE_MODULES:
                self._add(node, Capability.DYNAMIC_CODE.value, f"{func[9:]}({target}) reaches names dynamically")
        elif (
            self._imports_pathlib
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in PATH_WRITE_METHODS
            and func is None
        ):
            self._add(node, Capability.FILESYSTEM.value, f".{node.func.attr}() changes the file system")
        self.generic_visit(node)

    def _check_getattr(self, node: ast.Call, func: str) -> None:
        if len(node.args) < 2:
            return
        target = _resolve(node.args[0], self.aliases)
        attr = fold_constant(node.args[1])
        self._handled.add(id(node.args[0]))
        if target is None:
            if isinstance(node.args[0], ast.Name | ast.Attribute):
                return  # an object of the job's own; getattr on it reaches nothing new
            self.visit(node.args[0])
            return
        verb = func.removeprefix("builtins.")
        if attr is None:
            self._add(node, Capability.DYNAMIC_CODE.value, f"{verb}() on {target} with a computed name")
            return
        if attr in ESCAPE_DUNDERS:
            self._add(node, Capability.DYNAMIC_CODE.value, f"{verb}() reaches {attr}")
        if verb in {"setattr", "delattr"} and target in SENSITIVE_MODULES:
            self._add(node, Capability.DYNAMIC_CODE.value, f"{verb}() changes module {target}")
        self._flag_name(node, f"{target}.{attr}")

    def _check_path_arg(self, node: ast.Call, func: str) -> None:
        if not node.args:
            if func.startswith("pathlib."):
                return  # Path() is the current folder
            for k in node.keywords:
                if k.arg in {"file", "filename"}:
                    self._judge_path(node, func, k.value)
            return
        if func.startswith("pathlib."):
            for arg in node.args:
                self._judge_path(node, func, arg)
        else:
            self._judge_path(node, func, node.args[0])

    def _judge_path(self, node: ast.Call, func: str, arg: ast.expr) -> None:
        name = func.removeprefix("builtins.")
        value = fold_constant(arg)
        if value is None:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, int):
                self._add(node, Capability.FILESYSTEM.value, f"{name}() on a raw file descriptor")
                return
            self._add(node, Capability.FILESYSTEM.value, f"{name}() with a computed path may leave the workspace")
            return
        if not is_inside_workspace(value):
            self._add(node, Capability.FILESYSTEM.value, f"{name}() on a path outside the workspace")


def is_inside_workspace(path: str) -> bool:
    """A literal path stays inside the job workspace: relative, no ``..``, no ``~``, no drive or URL."""
    if not path or path.startswith(("/", "\\", "~")) or ":" in path or "\x00" in path:
        return not path  # "" is harmless for Path(); anything else here leaves
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return ".." not in parts


def _kw_is(node: ast.Call, name: str, value: object) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value for k in node.keywords)


def _kw_is_const_or_absent(node: ast.Call, name: str) -> bool:
    kw = next((k for k in node.keywords if k.arg == name), None)
    return kw is None or isinstance(kw.value, ast.Constant)


def iter_python_files(files: dict[str, str | None]) -> Iterator[tuple[str, str]]:
    """(path, text) of the Python files in a manifest's text map."""
    for path, text in sorted(files.items()):
        if path.endswith(".py") and text is not None:
            yield path, text
