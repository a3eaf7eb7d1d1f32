"""Validate compiled NVFlare site files by building every class they name, as NVFlare will at boot.

NVFlare 2.9's ``privacy.json.sample`` names classes that do not exist, and NVFlare reports a broken site file
only when the first job arrives. Here every ``path`` is imported and instantiated with its ``args`` first, and
the authorization policy is parsed by NVFlare's own parser; any failure is a :class:`PolicyFileError` naming the
file and the entry. Classes are reached by dotted path through ``loader`` (``importlib`` by default), so this
module imports no NVFlare itself and tests can pass their own loader.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fednode.errors import PolicyFileError

Loader = Callable[[str], Any]

FILTER_BASE = "nvflare.apis.filter.Filter"
COMPONENT_BASE = "nvflare.apis.fl_component.FLComponent"
APP_VALIDATOR_BASE = "nvflare.apis.app_validation.AppValidator"
AUTHZ_PARSER = "nvflare.fuel.sec.authz.parse_policy_config"
COMMAND_CATEGORIES = "nvflare.security.security.COMMAND_CATEGORIES"
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\.$")  # NVFlare: "pkg." is a prefix


def import_object(dotted: str) -> Any:
    """``package.module.Name`` -> the object, importing the longest module prefix that exists."""
    if not _PATH.match(dotted):
        raise ImportError(f"{dotted!r} is not a dotted path")
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not ".".join(parts[:i]).startswith(exc.name):
                raise  # the module exists but one of its own imports is missing
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"no module found for {dotted!r}")


def build(entry: Mapping[str, Any], *, base: str, file: str, where: str, loader: Loader) -> Any:
    """Import ``entry["path"]``, check it subclasses ``base``, and instantiate it with ``entry["args"]``."""
    path = entry.get("path")
    if not isinstance(path, str):
        raise PolicyFileError(f"{where}: needs a dotted class 'path' (bare 'name' lookups are not accepted)", file=file)
    args = entry.get("args", {})
    if not isinstance(args, dict):
        raise PolicyFileError(f"{where} ({path}): 'args' must be an object", file=file)
    try:
        cls = loader(path)
    except (ImportError, AttributeError) as exc:
        raise PolicyFileError(f"{where}: class {path} cannot be imported ({type(exc).__name__})", file=file) from None
    try:
        base_cls = loader(base)
    except (ImportError, AttributeError):
        raise PolicyFileError(f"{where}: NVFlare base class {base} is not available", file=file) from None
    if not (isinstance(cls, type) and issubclass(cls, base_cls)):
        raise PolicyFileError(f"{where}: {path} is not a {base.rsplit('.', 1)[-1]}", file=file)
    try:
        return cls(**args)
    except Exception as exc:  # any constructor failure means NVFlare would fail to boot this site
        raise PolicyFileError(f"{where}: {path} cannot be built: {type(exc).__name__}: {exc}", file=file) from None


def validate_privacy(doc: Mapping[str, Any], *, file: str, loader: Loader) -> int:
    """Check privacy.json; returns how many filters were built."""
    scopes = doc.get("scopes")
    if not isinstance(scopes, list) or not scopes:
        raise PolicyFileError("'scopes' must be a non-empty list", file=file)
    names: set[str] = set()
    built = 0
    for i, scope in enumerate(scopes):
        if not isinstance(scope, dict) or not isinstance(scope.get("name"), str) or not scope["name"]:
            raise PolicyFileError(f"scopes.{i}: needs a 'name'", file=file)
        if scope["name"] in names:
            raise PolicyFileError(f"scopes.{i}: duplicate scope {scope['name']!r}", file=file)
        names.add(scope["name"])
        for chain in ("task_result_filters", "task_data_filters"):
            entries = scope.get(chain, [])
            if not isinstance(entries, list):
                raise PolicyFileError(f"scopes.{i}.{chain}: must be a list", file=file)
            for j, entry in enumerate(entries):
                where = f"scopes.{i}.{chain}.{j}"
                if not isinstance(entry, dict):
                    raise PolicyFileError(f"{where}: must be an object", file=file)
                if entry.get("direction", "out") not in ("in", "out", "inout"):
                    raise PolicyFileError(f"{where}: direction must be in, out or inout", file=file)
                build(entry, base=FILTER_BASE, file=file, where=where, loader=loader)
                built += 1
    built += _build_components(doc, file=file, loader=loader)
    default = doc.get("default_scope")
    if default is not None and default not in names:
        raise PolicyFileError(f"default_scope {default!r} is not a defined scope", file=file)
    return built


def validate_authorization(doc: Mapping[str, Any], *, file: str, loader: Loader) -> None:
    """Parse authorization.json with NVFlare's own parser."""
    try:
        parse = loader(AUTHZ_PARSER)
        categories = loader(COMMAND_CATEGORIES)
    except (ImportError, AttributeError):
        raise PolicyFileError("NVFlare's authorization parser is not available", file=file) from None
    policy, err = parse(dict(doc), categories)
    if err or policy is None:
        raise PolicyFileError(f"invalid authorization policy: {err}", file=file)


def validate_resources(doc: Mapping[str, Any], *, file: str, loader: Loader) -> int:
    """Check resources.json: build every component and the app validator; check the class allow list."""
    built = _build_components(doc, file=file, loader=loader)
    validator = doc.get("app_validator")
    if validator is not None:
        if not isinstance(validator, dict):
            raise PolicyFileError("app_validator: must be an object", file=file)
        build(validator, base=APP_VALIDATOR_BASE, file=file, where="app_validator", loader=loader)
        built += 1
    mode = doc.get("class_list_enforcement_mode", "enforce")
    if mode not in ("enforce", "warn"):
        raise PolicyFileError("class_list_enforcement_mode must be enforce or warn", file=file)
    allow = doc.get("class_allow_list", [])
    if not isinstance(allow, list) or not all(
        isinstance(a, str) and (a == "*" or _PATH.match(a) or _PREFIX.match(a)) for a in allow
    ):
        raise PolicyFileError("class_allow_list must be a list of dotted class paths or prefixes", file=file)
    return built


def _build_components(doc: Mapping[str, Any], *, file: str, loader: Loader) -> int:
    components = doc.get("components", [])
    if not isinstance(components, list):
        raise PolicyFileError("'components' must be a list", file=file)
    ids: set[str] = set()
    for i, comp in enumerate(components):
        if not isinstance(comp, dict) or not isinstance(comp.get("id"), str):
            raise PolicyFileError(f"components.{i}: needs a string 'id'", file=file)
        if comp["id"] in ids:
            raise PolicyFileError(f"components.{i}: duplicate id {comp['id']!r}", file=file)
        ids.add(comp["id"])
        build(comp, base="builtins.object", file=file, where=f"components.{i} ({comp['id']})", loader=loader)
    return len(components)


VALIDATORS: dict[str, Callable[..., Any]] = {
    "privacy.json": validate_privacy,
    "authorization.json": validate_authorization,
    "resources.json": validate_resources,
}


def validate_site_dir(local_dir: Path, *, loader: Loader = import_object) -> dict[str, int]:
    """Validate the site files in an NVFlare ``local/`` folder (those present); returns entries built per file.

    This is the boot check: the site refuses to start on a :class:`PolicyFileError`.
    """
    report: dict[str, int] = {}
    for name, check in VALIDATORS.items():
        path = local_dir / name
        if not path.is_file():
            continue
        doc = read_json(path)
        built = check(doc, file=str(path), loader=loader)
        report[name] = built if isinstance(built, int) else 0
    if not report:
        raise PolicyFileError("no NVFlare site file found", file=str(local_dir))
    return report


def read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyFileError("file not found", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise PolicyFileError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"cannot read ({type(exc).__name__})", file=str(path)) from None
    if not isinstance(doc, dict):
        raise PolicyFileError("must hold a JSON object", file=str(path))
    return doc
