"""The AST walk: bind every name per scope, resolve expressions to dotted names or strings, judge them.

Three steps per file. ``_Binder`` records each binding (imports, assignments, loop and ``with`` targets,
parameters and their defaults, ``global``/``nonlocal``) in the scope Python puts it in. ``_solve`` gives
every name the set of everything any of its bindings can produce, iterating to a fixpoint over a bounded
lattice (sets are capped; string sets collapse to "any string"), so rebinding a name in any order or in a
loop always ends. ``_Judge`` then visits every expression: names and attribute chains that resolve to
something the allow-list does not allow are findings, and so are calls whose danger depends on their
arguments (paths, ``torch.load``, ``getattr``...), escapes to interpreter internals and frames, and
modules passed around as values. Values are strings: ``m:<dotted>`` an object reached from an import or
a builtin, ``s:<text>`` a known string, ``p:<prefix>`` a string whose start is known, ``?`` unknown,
``*`` any string (a collapsed set).
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from policies.codescan._tables import (
    DENIED_METHODS,
    ESCAPE_ATTRIBUTES,
    PATH_CALLS,
    PATH_METHODS,
    PathCall,
    Verdict,
    classify,
    judge,
    may_pass_as_value,
)
from policies.contracts import Finding
from policies.policy_model import Capability

UNREVIEWABLE = "unreviewable"
"""Capability of a finding for a file the reviewer cannot trust to read as it runs (always refused)."""
NOT_ALLOWED = "not_allowed"
"""Capability of a finding for a name no allow-list entry covers (always refused)."""

DENY = "deny"
WARN = "warn"

STAGED_FOLDERS = frozenset({"data", "model"})
"""Folders the site stages in the job's working directory (the data contract): local by construction."""

_MAX_SET = 24
_MAX_DEPTH = 12
_MAX_STRING = 1024
_MAX_ROUNDS = 200
_BUILTIN_NAMES = frozenset(dir(builtins))
_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_UTF8 = frozenset({"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig"})
_FORMAT_FIELD = re.compile(r"\{[^{}]*?[.\[][^{}]*\}")
_SAFE_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__class__", "__module__", "__version__"})
_CHECKED_CALLS = frozenset(
    {"builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.vars"}
    | {"builtins.str.format", "builtins.str.format_map"}
)
_DYN = Capability.DYNAMIC_CODE.value
_FS = Capability.FILESYSTEM.value
_NET = Capability.NETWORK.value
_DESER = Capability.DESERIALISATION.value

Values = frozenset[str]
_UNKNOWN: Values = frozenset({"?"})


@dataclass
class Prepared:
    """One file parsed and its names solved: what judging it and reading its exports both need."""

    path: str
    findings: list[Finding]  # found before judging (cookie, identifiers, syntax)
    binder: _Binder | None = None
    tree: ast.Module | None = None
    solved: bool = True


def prepare_source(
    source: str, path: str, *, module: str | None = None, local_modules: frozenset[str] = frozenset()
) -> Prepared:
    """Check the text, parse it and solve its bindings (once per file)."""
    early = _source_checks(source, path)
    if early:
        return Prepared(path, early)
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError, RecursionError) as exc:  # MemoryError: the bounded worker fails closed
        line = getattr(exc, "lineno", None) or 1
        return Prepared(
            path, [Finding(path, line, UNREVIEWABLE, "the file is not valid Python and cannot be reviewed")]
        )
    try:
        binder = _Binder(
            module or "",
            local_modules,
            is_package=path.endswith("__init__.py"),
            declarations="global" in source or "nonlocal" in source,
        )
        binder.bind(tree)
        solved = binder.solve()
    except RecursionError:
        return Prepared(path, [Finding(path, 1, UNREVIEWABLE, "the code is nested too deeply to be reviewed")])
    return Prepared(path, [], binder, tree, solved)


def exports_of(prepared: Prepared) -> dict[str, Values]:
    """A module's top-level names bound to imported objects (what ``from module import name`` gives)."""
    if prepared.binder is None:
        return {}
    top = prepared.binder.scopes[0]
    return {name: vals for name, vals in top.values.items() if any(v.startswith("m:") for v in vals)}


def judge_prepared(
    prepared: Prepared, *, local_modules: frozenset[str], exports: Mapping[str, Mapping[str, Values]]
) -> list[Finding]:
    """Every finding for a prepared file."""
    if prepared.binder is None or prepared.tree is None:
        return prepared.findings
    judge_ = _Judge(prepared.path, prepared.binder, local_modules, exports)
    if not prepared.solved:
        judge_.add(prepared.tree, DENY, UNREVIEWABLE, "names are rebound too intricately to be resolved")
    try:
        judge_.visit(prepared.tree)
    except RecursionError:
        return [Finding(prepared.path, 1, UNREVIEWABLE, "the code is nested too deeply to be reviewed")]
    return judge_.findings


def scan_source(
    source: str,
    path: str,
    *,
    module: str | None = None,
    local_modules: frozenset[str] = frozenset(),
    exports: Mapping[str, Mapping[str, Values]] | None = None,
) -> list[Finding]:
    """All findings for one Python file's text; ``path`` is the file's path as the manifest names it.

    ``module`` is the file's dotted module name under ``custom/`` (for relative imports), ``local_modules``
    the job's own modules, ``exports`` their module-level bindings (:func:`exports_of`), so that a name
    re-exported by a helper module is judged as what it is.
    """
    prepared = prepare_source(source, path, module=module, local_modules=local_modules)
    return judge_prepared(prepared, local_modules=local_modules, exports=exports or {})


def _source_checks(source: str, path: str) -> list[Finding]:
    """What the text itself hides: a non-UTF-8 coding cookie, non-ASCII identifiers."""
    findings = []
    for lineno, line in enumerate(source.splitlines()[:2], start=1):
        m = _COOKIE.match(line)
        if m and m.group(1).lower() not in _UTF8:
            findings.append(
                Finding(path, lineno, UNREVIEWABLE, f"coding cookie {m.group(1)!r}: Python would read other code")
            )
    if source.isascii():
        return findings
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and not tok.string.isascii():
                findings.append(
                    Finding(path, tok.start[0], UNREVIEWABLE, "non-ASCII identifier: it may read as another name")
                )
                break
    except (tokenize.TokenError, SyntaxError, IndentationError):
        findings.append(Finding(path, 1, UNREVIEWABLE, "the file is not valid Python and cannot be reviewed"))
    return findings


# -- scopes and bindings ----------------------------------------------------------------------------------


@dataclass
class _Scope:
    node: ast.AST
    parent: _Scope | None
    kind: str  # module, class, function, comprehension
    names: set[str] = field(default_factory=set)
    globals_: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    values: dict[str, Values] = field(default_factory=dict)


@dataclass(frozen=True)
class _Binding:
    scope: _Scope
    name: str
    expr: ast.expr | None  # None: an unknown value (a def, a with target, a parameter)
    where: _Scope  # the scope the expression is evaluated in
    element: bool = False  # the name takes one element of the expression (a loop target)


_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class _Binder:
    """Collects bindings per scope and solves them; also evaluates expressions for the judge."""

    def __init__(
        self, module: str, local_modules: frozenset[str], *, is_package: bool = False, declarations: bool = True
    ) -> None:
        self.module = module
        self.declarations = declarations
        self.package = module if is_package else module.rpartition(".")[0]
        self.local_modules = local_modules
        self.scopes: list[_Scope] = []
        self.scope_of: dict[int, _Scope] = {}  # id(node) -> the scope its expressions are evaluated in
        self.bindings: list[_Binding] = []
        self.star_imports: list[ast.ImportFrom] = []

    # collecting ---------------------------------------------------------------------------------------
    def bind(self, tree: ast.Module) -> None:
        top = _Scope(tree, None, "module")
        self.scopes.append(top)
        self._walk(tree, top)

    def _new(self, node: ast.AST, parent: _Scope, kind: str) -> _Scope:
        scope = _Scope(node, parent, kind)
        self.scopes.append(scope)
        return scope

    def _add(self, scope: _Scope, name: str, expr: ast.expr | None, where: _Scope, element: bool = False) -> None:
        for target in self._owners(scope, name):
            target.names.add(name)
            self.bindings.append(_Binding(target, name, expr, where, element))

    def _owners(self, scope: _Scope, name: str) -> list[_Scope]:
        """Where a binding lands: the module for ``global``; every enclosing function for ``nonlocal``."""
        if name in scope.globals_:
            return [self.scopes[0]]
        if name in scope.nonlocals:
            owners = []
            s = scope.parent
            while s is not None:
                if s.kind == "function":
                    owners.append(s)
                s = s.parent
            return owners or [scope]
        return [scope]

    def _walk(self, node: ast.AST, scope: _Scope) -> None:
        self.scope_of[id(node)] = scope
        if isinstance(node, ast.Global | ast.Nonlocal):
            (scope.globals_ if isinstance(node, ast.Global) else scope.nonlocals).update(node.names)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            self._function(node, scope)
            return
        if isinstance(node, ast.ClassDef):
            for part in (*node.decorator_list, *node.bases, *node.keywords):
                self._walk(part, scope)
            inner = self._new(node, scope, "class")
            for stmt in node.body:
                self._walk(stmt, inner)
            self._add(scope, node.name, None, scope)
            return
        if isinstance(node, _COMPREHENSIONS):
            inner = self._new(node, scope, "comprehension")
            for i, gen in enumerate(node.generators):
                self._walk(gen.iter, scope if i == 0 else inner)
                self._targets(gen.target, gen.iter, inner, inner if i else scope, element=True)
                for cond in gen.ifs:
                    self._walk(cond, inner)
            for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
                self._walk(part, inner)
            return
        self._record(node, scope)
        for child in ast.iter_child_nodes(node):
            self._walk(child, scope)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: _Scope) -> None:
        args = node.args
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                self._walk(deco, scope)
            if node.returns is not None:
                self._walk(node.returns, scope)
            self._add(scope, node.name, None, scope)
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            self._walk(default, scope)
        inner = self._new(node, scope, "function")
        positional = [*args.posonlyargs, *args.args]
        names = [a.arg for a in positional][len(positional) - len(args.defaults) :]
        with_defaults = dict(zip(names, args.defaults, strict=True))
        with_defaults.update(
            {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
        )
        everything = [*positional, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a is not None)]
        for a in everything:
            self.scope_of[id(a)] = scope
            if a.annotation is not None:
                self._walk(a.annotation, scope)
            self._add(inner, a.arg, None, inner)
            if a.arg in with_defaults:
                self._add(inner, a.arg, with_defaults[a.arg], scope)
        body: list[ast.stmt] = node.body if isinstance(node.body, list) else [ast.Expr(node.body)]
        # global/nonlocal statements apply to the whole function: read them before its bindings
        for stmt in ast.walk(ast.Module(body=list(body), type_ignores=[])) if self.declarations else ():
            if isinstance(stmt, ast.Global):
                inner.globals_.update(stmt.names)
            elif isinstance(stmt, ast.Nonlocal):
                inner.nonlocals.update(stmt.names)
        for stmt in body:
            self._walk(stmt, inner)

    def _record(self, node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self._add(scope, a.asname, _dotted(a.name), scope)
                else:
                    root = a.name.split(".")[0]
                    self._add(scope, root, _dotted(root), scope)
        elif isinstance(node, ast.ImportFrom):
            base = self.import_base(node)
            for a in node.names:
                if a.name == "*":
                    self.star_imports.append(node)
                elif base is not None:
                    self._add(scope, a.asname or a.name, _dotted(f"{base}.{a.name}" if base else a.name), scope)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._targets(target, node.value, scope, scope)
        elif isinstance(node, ast.NamedExpr):
            owner = scope
            while owner.kind == "comprehension" and owner.parent is not None:
                owner = owner.parent  # PEP 572: a walrus in a comprehension binds in the enclosing scope
            self._targets(node.target, node.value, owner, scope)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._targets(node.target, node.value, scope, scope)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                expr = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
                self._add(scope, node.target.id, expr, scope)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self._targets(node.target, node.iter, scope, scope, element=True)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    self._targets(item.optional_vars, None, scope, scope)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            self._add(scope, node.name, None, scope)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self._add(scope, node.rest, None, scope)

    def _targets(
        self, target: ast.expr, value: ast.expr | None, scope: _Scope, where: _Scope, element: bool = False
    ) -> None:
        if isinstance(target, ast.Name):
            self._add(scope, target.id, value, where, element)
        elif isinstance(target, ast.Starred):
            self._targets(target.value, value, scope, where, element=True)
        elif isinstance(target, ast.Tuple | ast.List):
            same = isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts) and not element
            for i, t in enumerate(target.elts):
                if same and isinstance(value, ast.Tuple | ast.List):
                    self._targets(t, value.elts[i], scope, where)
                else:  # unpacking an unknown value: each name may take any element of it
                    self._targets(t, value, scope, where, element=True)

    def import_base(self, node: ast.ImportFrom) -> str | None:
        """The dotted module a ``from`` import reads from; relative imports resolve inside ``custom/``."""
        if node.level == 0:
            return node.module or ""
        parts = self.package.split(".") if self.package else []
        if node.level - 1 > len(parts) or (node.level - 1 == len(parts) and not node.module):
            return None  # above custom/: not the job's own code
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, *([node.module] if node.module else [])])

    # solving --------------------------------------------------------------------------------------------
    def solve(self) -> bool:
        """Give every bound name the union of all its bindings' values; False if no fixpoint was reached."""
        for _ in range(_MAX_ROUNDS):
            changed = False
            for b in self.bindings:
                if b.expr is None:
                    new = _UNKNOWN
                else:
                    new = self.eval(b.expr, b.where)
                    if b.element:
                        new = new | _UNKNOWN
                cur = b.scope.values.get(b.name, frozenset())
                merged = _normalise(cur | new)
                if merged != cur:
                    b.scope.values[b.name] = merged
                    changed = True
            if not changed:
                return True
        return False

    def lookup(self, name: str, scope: _Scope) -> Values | None:
        """The values of ``name`` as seen from ``scope``; None when nothing in the file binds it."""
        s: _Scope | None = scope
        first = True
        while s is not None:
            if (first or s.kind != "class") and name in s.names:
                return s.values.get(name, frozenset())
            first = False
            s = s.parent
        return None

    # evaluating -----------------------------------------------------------------------------------------
    def eval(self, node: ast.expr, scope: _Scope) -> Values:
        """Everything ``node`` can stand for (bounded)."""
        return _normalise(self._eval(node, scope, 0))

    def _eval(self, node: ast.expr, scope: _Scope, depth: int) -> Values:
        if depth > 40:
            return _UNKNOWN
        d = depth + 1
        if isinstance(node, ast.Name):
            found = self.lookup(node.id, scope)
            if found is not None:
                return found
            if node.id in _BUILTIN_NAMES or node.id == "__builtins__":
                return frozenset({"m:builtins" if node.id == "__builtins__" else f"m:builtins.{node.id}"})
            return _UNKNOWN
        if isinstance(node, ast.Attribute):
            return _attr(self._eval(node.value, scope, d), node.attr)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, _Imported):
                return frozenset({"m:" + str(node.value)})
            if isinstance(node.value, bytes):  # open(b"/etc/passwd") names a path too
                return frozenset({"s:" + node.value.decode("latin-1")})
            return frozenset({"s:" + node.value}) if isinstance(node.value, str) else _UNKNOWN
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, scope, d)
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, scope, d), self._eval(node.right, scope, d)
            if isinstance(node.op, ast.Add):
                return _product(left, right, _concat)
            if isinstance(node.op, ast.Div):
                return _product(left, right, _join)
            if isinstance(node.op, ast.Mod):
                return frozenset(_prefix_only(v) for v in left)
            return _UNKNOWN
        if isinstance(node, ast.IfExp):
            return self._eval(node.body, scope, d) | self._eval(node.orelse, scope, d)
        if isinstance(node, ast.BoolOp):
            return frozenset().union(*(self._eval(v, scope, d) for v in node.values))
        if isinstance(node, ast.NamedExpr):
            return self._eval(node.value, scope, d)
        if isinstance(node, ast.Starred | ast.Subscript | ast.Await):
            return self._eval(node.value, scope, d) | _UNKNOWN
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return frozenset().union(_UNKNOWN, *(self._eval(e, scope, d) for e in node.elts))
        if isinstance(node, ast.Dict):
            return frozenset().union(_UNKNOWN, *(self._eval(v, scope, d) for v in node.values))
        if isinstance(node, ast.Call):
            return self._call(node, scope, d)
        return _UNKNOWN

    def _fstring(self, node: ast.JoinedStr, scope: _Scope, depth: int) -> Values:
        prefixes = {""}
        complete = True
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                pieces = {part.value}
            elif isinstance(part, ast.FormattedValue) and part.format_spec is None and part.conversion in (-1, 115):
                vals = self._eval(part.value, scope, depth)
                if all(v.startswith("s:") for v in vals) and len(vals) <= 4:
                    pieces = {v[2:] for v in vals}
                else:
                    complete = False
                    break
            else:
                complete = False
                break
            prefixes = {p + q for p in prefixes for q in pieces}
            if len(prefixes) > _MAX_SET:
                return _UNKNOWN
        kind = "s:" if complete else "p:"
        return frozenset(f"{kind}{p}" if (complete or p) else "?" for p in prefixes)

    def _call(self, node: ast.Call, scope: _Scope, depth: int) -> Values:
        func = self._eval(node.func, scope, depth)
        names = {v[2:] for v in func if v.startswith("m:")}
        args = [a for a in node.args if not isinstance(a, ast.Starred)]
        if names & {"builtins.getattr"} and len(args) >= 2:
            attrs = self._eval(args[1], scope, depth)
            if all(a.startswith("s:") for a in attrs):
                base = self._eval(args[0], scope, depth)
                return frozenset().union(*(_attr(base, a[2:]) for a in attrs)) | _UNKNOWN
        if names & {"os.path.join", "posixpath.join"} or (
            names & {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"}
        ):
            if len(args) != len(node.args) or node.keywords:
                return _UNKNOWN
            if not args:
                return frozenset({"s:"})
            acc = self._eval(args[0], scope, depth)
            for a in args[1:]:
                acc = _product(acc, self._eval(a, scope, depth), _join)
            return acc
        if names & {"builtins.str", "os.fspath"} and len(args) == 1 and not node.keywords:
            return frozenset(v if not v.startswith("m:") else "?" for v in self._eval(args[0], scope, depth))
        if isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath" and not names:
            acc = self._eval(node.func.value, scope, depth)
            for a in node.args:
                acc = _product(acc, self._eval(a, scope, depth), _join)
            return acc
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "join"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.List | ast.Tuple)
        ):
            seps = self._eval(node.func.value, scope, depth)
            items = [self._eval(e, scope, depth) for e in node.args[0].elts]
            if all(len(s) == 1 and next(iter(s)).startswith("s:") for s in (seps, *items)):
                sep = next(iter(seps))[2:]
                return frozenset({"s:" + sep.join(next(iter(i))[2:] for i in items)})
        return _UNKNOWN


def _dotted(name: str) -> ast.expr:
    """An expression standing for an imported dotted name (``m:`` values come only from imports)."""
    return ast.Constant(value=_Imported(name))


class _Imported(str):
    """Marks a constant made by the binder for an import (never a string literal of the source)."""


def _attr(base: Values, attr: str) -> Values:
    out = {f"{v}.{attr}" for v in base if v.startswith("m:") and v.count(".") < _MAX_DEPTH}
    return frozenset(out) if out else _UNKNOWN


def _concat(left: str, right: str) -> str:
    if left.startswith("s:"):
        if right.startswith("s:"):
            return "s:" + left[2:] + right[2:]
        if right.startswith("p:"):
            return "p:" + left[2:] + right[2:]
        return "p:" + left[2:] if left[2:] else "?"
    if left.startswith("p:"):
        return left
    return "?"


def _join(left: str, right: str) -> str:
    """``os.path.join`` / ``Path /`` of two values: an absolute right side wins."""
    if right.startswith(("s:", "p:")) and right[2:].startswith("/"):
        return right
    if left.startswith("s:") and right.startswith(("s:", "p:")):
        joined = left[2:].rstrip("/") + "/" + right[2:] if left[2:] else right[2:]
        return ("s:" if right.startswith("s:") else "p:") + joined
    if left.startswith("s:"):
        return "p:" + left[2:].rstrip("/") + "/" if left[2:] else "?"
    if left.startswith("p:"):
        return left
    return "?"


def _prefix_only(value: str) -> str:
    if value.startswith("s:") and "%" in value:
        head = value[2 : value.index("%")]
        return "p:" + head if head else "?"
    return value if value.startswith(("s:", "p:")) else "?"


def _product(left: Values, right: Values, op: Callable[[str, str], str]) -> Values:
    if len(left) * len(right) > _MAX_SET * 4:
        return frozenset({"*"})
    return frozenset(op(a, b) for a in left for b in right)


def _normalise(values: Iterable[str]) -> Values:
    """Bound a value set: long strings become prefixes, too many strings collapse to ``*`` (any string)."""
    out = set()
    for v in values:
        if v.startswith(("s:", "p:")) and len(v) > _MAX_STRING:
            v = "p:" + v[2:_MAX_STRING]
        out.add(v)
    strings = [v for v in out if v.startswith(("s:", "p:"))]
    if "*" in out or len(strings) > _MAX_SET:
        out.difference_update(strings)
        out.add("*")
    dotted = [v for v in out if v.startswith("m:")]
    if len(dotted) > _MAX_SET * 4:
        out.difference_update(dotted)
        out.add("?")
    return frozenset(out)


# -- judging ----------------------------------------------------------------------------------------------


class _Judge(ast.NodeVisitor):
    def __init__(
        self,
        path: str,
        binder: _Binder,
        local_modules: frozenset[str],
        exports: Mapping[str, Mapping[str, Values]],
    ) -> None:
        self.path = path
        self.binder = binder
        self.local_modules = local_modules
        self.local_roots = frozenset(m.split(".")[0] for m in local_modules)
        self.exports = exports
        self.findings: list[Finding] = []
        self._seen: set[tuple[int, str, str]] = set()
        self._roles: dict[int, str] = {}

    def add(self, node: ast.AST, severity: str, capability: str, message: str) -> None:
        line = getattr(node, "lineno", 1)
        key = (line, capability, message)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(Finding(self.path, line, capability, message, severity))

    def _scope(self, node: ast.AST) -> _Scope:
        return self.binder.scope_of.get(id(node), self.binder.scopes[0])

    def _values(self, node: ast.expr) -> Values:
        return self.binder.eval(node, self._scope(node))

    # names: canonical forms through the job's own modules --------------------------------------------------
    def _canon(self, name: str, depth: int = 0) -> set[str]:
        """``name`` with re-exports of the job's own modules followed (``helpers.o.system`` -> ``os.system``)."""
        parts = name.split(".")
        if parts[0] not in self.local_roots or depth > 6:
            return {name}
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            exported = self.exports.get(module, {}).get(parts[i])
            if exported:
                rest = ".".join(parts[i + 1 :])
                out: set[str] = set()
                for v in exported:
                    if v.startswith("m:"):
                        out |= self._canon(v[2:] + ("." + rest if rest else ""), depth + 1)
                return out or {name}
        return {name}

    def _is_local(self, name: str) -> bool:
        return name.split(".")[0] in self.local_roots

    def _dotted(self, values: Values) -> set[str]:
        out: set[str] = set()
        for v in values:
            if v.startswith("m:"):
                out |= self._canon(v[2:])
        return out

    def _judge_name(self, node: ast.AST, name: str, role: str) -> Verdict:
        if self._is_local(name):
            return Verdict.ALLOW
        if role == "envwrite" and name == "os.environ":
            self.add(node, WARN, Capability.ENVIRONMENT.value, "sets an environment variable to a literal value")
            return Verdict.WARN
        verdict, capability, why = judge(name)
        cap = capability.value if capability is not None else NOT_ALLOWED
        if verdict is Verdict.DENY:
            self.add(node, DENY, cap, f"{name}: {why}")
        elif verdict is Verdict.UNLISTED:
            self.add(node, DENY, NOT_ALLOWED, f"{name}: {why}")
        elif verdict is Verdict.WARN:
            self.add(node, WARN, cap, f"{name}: {why}")
        elif role == "value":
            if verdict is Verdict.PATH_CALL or name in _CHECKED_CALLS:
                known = classify(name)
                cap = known[0].value if known else _DYN if name in _CHECKED_CALLS else _FS
                self.add(node, DENY, cap, f"{name} used as a value: its arguments cannot be checked")
            elif verdict is Verdict.NAMESPACE or not may_pass_as_value(name):
                self.add(node, DENY, _DYN, f"{name} used as a value hides which of its parts run")
        return verdict

    # roles: how a name is used decides what is judged ----------------------------------------------------
    def _role(self, node: ast.AST) -> str:
        return self._roles.get(id(node), "value")

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Attribute):
            self._roles.setdefault(id(node.value), "base")
        elif isinstance(node, ast.Call):
            self._roles.setdefault(id(node.func), "call")
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            plain = all(isinstance(t, ast.Name) for t in targets) and isinstance(node.value, ast.Name | ast.Attribute)
            if plain and self._scope(node).kind != "class":  # in a class body the name becomes an attribute
                self._roles[id(node.value)] = "alias"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for deco in node.decorator_list:
                self._roles.setdefault(id(deco), "call")
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for t in node.targets:  # os.environ["TOKENIZERS_PARALLELISM"] = "false": a literal setting, no read
                if (
                    isinstance(t, ast.Subscript)
                    and isinstance(t.slice, ast.Constant)
                    and isinstance(t.slice.value, str)
                    and self._dotted(self._values(t.value)) == {"os.environ"}
                ):
                    self._roles[id(t.value)] = "envwrite"
        super().generic_visit(node)

    # imports --------------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            for name in self._canon(a.name):
                self._judge_name(node, name, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self.binder.import_base(node)
        if base is None:
            self.add(node, DENY, NOT_ALLOWED, "relative import above the job's own folder")
            return
        for a in node.names:
            if a.name == "*":
                full = base
                if node.level or self._is_local(base) or not may_pass_as_value(base):
                    self.add(node, DENY, _DYN, f"from {base or '.'} import *: name what you import")
                continue
            full = f"{base}.{a.name}" if base else a.name
            for name in self._canon(full):
                self._judge_name(node, name, "import")

    # names and attributes -----------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        role = self._role(node)
        if role == "base":
            return
        for name in self._dotted(self._values(node)):
            self._judge_name(node, name, role)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        receiver = self._values(node.value)
        if node.attr in {"format", "format_map"} and not all(v.startswith("m:") for v in receiver):
            self._check_template(node, node.value)  # "...".format, called here or passed around
        if node.attr in ESCAPE_ATTRIBUTES:
            self.add(node, DENY, _DYN, f"attribute {node.attr} reaches interpreter internals, builtins or frames")
        base = self._dotted(self._values(node.value))
        if node.attr == "__dict__" and base:
            self.add(node, DENY, _DYN, f"{sorted(base)[0]}.__dict__ reaches names dynamically")
        if not isinstance(node.ctx, ast.Load) and base:
            self.add(node, DENY, _DYN, f"changes {sorted(base)[0]}.{node.attr}: job code may not patch modules")
        role = self._role(node)
        if role != "base" and isinstance(node.ctx, ast.Load):
            for name in self._dotted(self._values(node)):
                self._judge_name(node, name, role)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Div):  # pathlib's "/": an absolute right side replaces the whole path
            right = self._values(node.right)
            if any(v.startswith(("s:", "p:")) for v in right):
                joined = self._values(node)
                outside = sorted(v[2:] for v in joined if v.startswith(("s:", "p:")) and not _inside(v))
                if outside:
                    self.add(node, DENY, _FS, f"path {outside[0][:60]!r} outside the working directory")
        self.generic_visit(node)

    # calls --------------------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        names = self._dotted(self._values(node.func))
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if "builtins.vars" in names and len(node.args) == 1 and not self._dotted(self._values(node.args[0])):
            self._roles[id(node.func)] = "base"  # vars(args) of an object of the job's own: allowed
        for name in names:
            if name in {"builtins.getattr", "builtins.setattr", "builtins.delattr"}:
                self._check_getattr(node, name)
            elif name in PATH_CALLS:
                self._check_paths(node, name, PATH_CALLS[name])
                if name == "torch.load" and not _kw_is(node, "weights_only", True):
                    self.add(node, DENY, _DESER, "torch.load without weights_only=True unpickles")
                if name == "numpy.load" and not _kw_absent_or(node, "allow_pickle", False):
                    self.add(node, DENY, _DESER, "numpy.load with allow_pickle unpickles")
        if method is not None:  # whatever the receiver: the scan cannot always know it
            if method in DENIED_METHODS:
                capability, why = DENIED_METHODS[method]
                self.add(node, DENY, capability.value, f".{method}(): {why}")
            elif method in PATH_METHODS and not names & PATH_CALLS.keys():
                self._check_paths(node, f".{method}", PATH_METHODS[method])
        if method == "from_pretrained":
            self._check_pretrained(node)
        if names & {"builtins.str.format", "builtins.str.format_map"} and node.args:
            self._check_template(node, node.args[0])
        for k in node.keywords:
            if k.arg == "trust_remote_code" and not (isinstance(k.value, ast.Constant) and k.value.value is False):
                self.add(node, DENY, _DYN, "trust_remote_code runs code from the model folder")
        self.generic_visit(node)

    def _check_getattr(self, node: ast.Call, func: str) -> None:
        verb = func.removeprefix("builtins.")
        if len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args[:2]):
            self.add(node, DENY, _DYN, f"{verb}() with arguments the scan cannot see")
            return
        attrs = self._values(node.args[1])
        if not attrs or not all(a.startswith("s:") for a in attrs):
            self.add(node, DENY, _DYN, f"{verb}() with a name computed at run time")
            return
        base = self._dotted(self._values(node.args[0]))
        for attr in sorted(a[2:] for a in attrs):
            if attr in ESCAPE_ATTRIBUTES or (attr.startswith("__") and attr not in _SAFE_DUNDERS):
                self.add(node, DENY, _DYN, f"{verb}() reaches {attr}")
            if base and verb != "getattr":
                self.add(node, DENY, _DYN, f"{verb}() changes module {sorted(base)[0]}")
            for b in sorted(base):
                self._judge_name(node, f"{b}.{attr}", "value")

    def _path_args(self, node: ast.Call, spec: PathCall) -> Iterator[ast.expr]:
        """The expressions that are paths for this call (a ``*``/``**`` argument stands for all it holds)."""
        for a in node.args:
            if isinstance(a, ast.Starred):
                yield a.value  # *[...] of literals is judged; anything else counts as computed
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        for i, arg in enumerate(positional):
            if spec.all_positional or i in spec.positions:
                yield arg
        for k in node.keywords:
            if k.arg is None:
                if isinstance(k.value, ast.Dict) and all(isinstance(key, ast.Constant) for key in k.value.keys):
                    for key, value in zip(k.value.keys, k.value.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value in spec.keywords:
                            yield value
                else:
                    yield k.value
            elif k.arg in spec.keywords:
                yield k.value

    def _check_paths(self, node: ast.Call, name: str, spec: PathCall) -> None:
        shown = name.removeprefix("builtins.")
        for arg in self._path_args(node, spec):
            values = self._values(arg) | (_UNKNOWN if isinstance(arg, ast.List | ast.Tuple | ast.Dict) else frozenset())
            self._judge_path(node, shown, values)

    def _judge_path(self, node: ast.AST, shown: str, values: Values, what: str = "path") -> None:
        outside = sorted(v[2:] for v in values if v.startswith(("s:", "p:")) and not _inside(v))
        if outside:
            self.add(node, DENY, _FS, f"{shown}() on {what} {outside[0][:60]!r} outside the working directory")
        elif any(not v.startswith("s:") for v in values):
            self.add(node, WARN, _FS, f"{shown}() on a {what} computed at run time: the sandbox confines it")

    def _check_pretrained(self, node: ast.Call) -> None:
        arg = node.args[0] if node.args and not isinstance(node.args[0], ast.Starred) else None
        arg = next((k.value for k in node.keywords if k.arg == "pretrained_model_name_or_path"), arg)
        if arg is None:
            self.add(node, WARN, _NET, "from_pretrained() with a source the scan cannot see")
            return
        values = self._values(arg)
        local_only = _kw_is(node, "local_files_only", True)
        for v in sorted(values):
            if v.startswith("s:") and not local_only and _inside(v) and not _looks_local(v[2:]):
                self.add(
                    node,
                    DENY,
                    _NET,
                    f"from_pretrained({v[2:][:60]!r}) names a Hugging Face hub id and would download it: "
                    "pass ./relative/folder or local_files_only=True",
                )
                return
        self._judge_path(node, "from_pretrained", values, "model folder")
        for k in node.keywords:
            if k.arg in {"cache_dir", "gguf_file"}:
                self._judge_path(node, "from_pretrained", self._values(k.value), k.arg)

    def _check_template(self, node: ast.AST, template: ast.expr) -> None:
        """A format string's fields may read attributes and items of its arguments: none may reach dunders."""
        templates = self._values(template)
        if all(v.startswith("s:") for v in templates):
            for t in templates:
                for fld in _FORMAT_FIELD.findall(t[2:]):
                    if "__" in fld or any(e in fld for e in ESCAPE_ATTRIBUTES):
                        self.add(node, DENY, _DYN, f"format field {fld[:40]} reaches interpreter internals")
        else:
            self.add(node, WARN, _DYN, "format string built at run time can read attributes of its arguments")


def _inside(value: str) -> bool:
    """A string (``s:``) or string start (``p:``) that names nothing outside the working directory."""
    text = value[2:]
    if text.startswith(("/", "\\", "~")) or ":" in text or "\x00" in text:
        return False
    return ".." not in text.replace("\\", "/").split("/")


def _looks_local(text: str) -> bool:
    """A from_pretrained source that is a local folder, not a hub id: ``./x``, or inside a staged folder."""
    parts = PurePosixPath(text).parts
    return text.startswith("./") or text == "." or (bool(parts) and parts[0] in STAGED_FOLDERS)


def is_inside_workspace(path: str) -> bool:
    """A literal path stays inside the job workspace: relative, no ``..``, no ``~``, no drive or URL."""
    return _inside("s:" + path)


def fold_constant(node: ast.expr) -> str | None:
    """The string value of a constant string expression, or None when it is computed at run time."""
    binder = _Binder("", frozenset())
    binder.bind(ast.Module(body=[], type_ignores=[]))
    values = binder.eval(node, binder.scopes[0])
    if len(values) == 1 and next(iter(values)).startswith("s:"):
        return next(iter(values))[2:]
    return None


def _kw_is(node: ast.Call, name: str, value: object) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value for k in node.keywords)


def _kw_absent_or(node: ast.Call, name: str, value: object) -> bool:
    kw = next((k for k in node.keywords if k.arg == name), None)
    if any(k.arg is None for k in node.keywords):
        return False
    return kw is None or (isinstance(kw.value, ast.Constant) and kw.value.value is value)
