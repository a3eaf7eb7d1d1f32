"""Compiling the policy to NVFlare 2.9 site files, checked with NVFlare's own parsers and classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fednode.errors import PolicyFileError
from policies.compile import (
    CONFIG_ONLY_CLASSES,
    FILTERS,
    compile_site,
    import_object,
    validate_site_dir,
    validate_site_files,
    write_site_files,
)
from policies.policy_model import ResultFilter, SitePolicy, parse_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
NVFLARE_ONLY = [
    {"kind": "weights_only"},
    {"kind": "exclude_vars", "args": {"exclude_vars": "embeddings"}},
    {"kind": "percentile_privacy", "args": {"percentile": 20, "gamma": 0.05}},
    {"kind": "svt_privacy"},
]


def policy(filters: list[dict[str, Any]] | None = None, kinds: list[str] | None = None) -> SitePolicy:
    data = yaml.safe_load((EXAMPLES / "site-policy.yaml").read_text())
    if filters is not None:
        data["privacy"]["result_filters"] = filters
    if kinds is not None:
        data["jobs"]["kinds"] = kinds
    return parse_policy(data)


def test_nvflare_filter_classes_exist_and_build() -> None:
    from nvflare.apis.filter import Filter

    for kind, cls in FILTERS.items():
        if cls.path.startswith("nvflare."):
            obj = import_object(cls.path)(**{**cls.defaults, **dict.fromkeys(cls.required_args, "x")})
            assert isinstance(obj, Filter), kind


def test_config_only_allow_list_is_within_nvflares_curated_list() -> None:
    from nvflare.app_common.default_component_policy import DEFAULT_CLASS_ALLOW_LIST

    nvflare_entries = [c for c in CONFIG_ONLY_CLASSES if c.startswith("nvflare.")]
    assert nvflare_entries and set(nvflare_entries) <= set(DEFAULT_CLASS_ALLOW_LIST)
    assert not any("launcher" in c.lower() or "subprocess" in c.lower() for c in CONFIG_ONLY_CLASSES)


def test_privacy_json_is_built_by_nvflares_own_configurer(tmp_path: Path) -> None:
    """NVFlare's PrivacyConfiger reads the compiled file and builds each filter and the egress guard."""
    from nvflare.apis.fl_constant import FilterKey
    from nvflare.apis.workspace import Workspace
    from nvflare.private.fed.app.fl_conf import create_privacy_manager

    files = compile_site(policy(NVFLARE_ONLY))
    write_site_files(files, tmp_path / "local")
    (tmp_path / "startup").mkdir()
    manager = create_privacy_manager(Workspace(str(tmp_path), "site-oslo"), names_only=False)
    scope = manager.get_scope(None)  # the default scope
    assert scope is not None and scope.name == "fednode"
    built = [type(f).__name__ for f in scope.task_result_filters[FilterKey.OUT]]
    assert built == ["DXOBlocker", "ExcludeVars", "PercentilePrivacy", "SVTPrivacy"]
    assert type(manager.components["fednode_egress_guard"]).__name__ == "EgressGuard"
    assert scope.props["policy_digest"] == files.privacy["scopes"][0]["properties"]["policy_digest"]


@pytest.mark.parametrize("byoc", [False, True])
def test_authorization_restricts_byoc_and_submission(byoc: bool) -> None:
    from nvflare.fuel.sec.authz import AuthzContext, Person, parse_policy_config
    from nvflare.security.security import COMMAND_CATEGORIES

    files = compile_site(policy(kinds=["config_only", "byoc"] if byoc else ["config_only"]))
    nv_policy, err = parse_policy_config(files.authorization, COMMAND_CATEGORIES)
    assert err == "" and nv_policy is not None

    def may(right: str, name: str, org: str, role: str = "lead") -> bool:
        user = Person(name, org, role)
        return nv_policy.evaluate("Oslo University Hospital", AuthzContext(right, user, user))[0]

    listed = ("lead@karolinska.example", "Karolinska Institutet")
    same_org_other_person = ("intern@karolinska.example", "Karolinska Institutet")
    org_entry = ("anyone@ous.example", "Oslo University Hospital")  # the policy allows this org by name
    assert may("submit_job", *listed) and may("submit_job", *org_entry)
    assert not may("submit_job", *same_org_other_person)
    assert not may("submit_job", "mallory@evil.example", "Evil Corp", "project_admin")
    assert may("byoc", *listed) is byoc
    assert not may("byoc", "mallory@evil.example", "Evil Corp")
    assert not may("shell_commands", *listed)
    assert not may("server-predeployed-flwr", *listed, "project_admin")


def test_resources_merge_into_the_provisioned_file() -> None:
    base = {
        "format_version": 2,
        "components": [
            {"id": "resource_manager", "path": "x.Y", "args": {}},
            {"id": "fednode_approval_gate", "path": "old.Gate", "args": {}},
        ],
        "allow_log_streaming": True,
    }
    res = compile_site(policy(), base_resources=base).resources
    ids = [c["id"] for c in res["components"]]
    assert ids == ["resource_manager", "fednode_approval_gate", "process_launcher"]
    assert res["components"][1]["path"] == "node.site.gate.ApprovalGate"
    assert res["components"][2]["path"] == "node.site.joblauncher.SiteJobLauncher"
    assert res["app_validator"]["path"] == "node.site.gate.DigestValidator"
    assert res["class_list_enforcement_mode"] == "enforce" and res["allow_log_streaming"] is False
    assert base["components"][1]["path"] == "old.Gate"  # the base is not modified


def test_compiled_files_validate_with_the_real_classes(tmp_path: Path) -> None:
    """Everything an NVFlare-filters-only policy names exists: NVFlare's filters and node's gate components."""
    files = compile_site(policy(NVFLARE_ONLY))
    report = validate_site_files(files)
    assert report == {"privacy.json": 6, "authorization.json": 0, "resources.json": 5}
    write_site_files(files, tmp_path)
    assert validate_site_dir(tmp_path) == report
    assert json.loads((tmp_path / "privacy.json").read_text()) == files.privacy


def test_node_filters_build_once_node_ships_them() -> None:
    pytest.importorskip("node.site.filters")
    validate_site_files(compile_site(parse_policy(yaml.safe_load((EXAMPLES / "site-policy.yaml").read_text()))))


def test_nvflares_own_sample_privacy_file_is_refused(tmp_path: Path) -> None:
    """DESIGN.md: NVFlare's privacy.json.sample names classes that do not exist; the boot check refuses it."""
    import nvflare.lighter

    template = yaml.safe_load((Path(nvflare.lighter.__file__).parent / "templates" / "master_template.yml").read_text())
    (tmp_path / "privacy.json").write_text(template["sample_privacy"])
    with pytest.raises(PolicyFileError) as err:
        validate_site_dir(tmp_path)
    assert "privacy.json" in err.value.message and "scopes.0.task_result_filters.0" in err.value.message


@pytest.mark.parametrize(
    ("name", "doc", "needle"),
    [
        (
            "privacy.json",
            {"scopes": [{"name": "s", "task_result_filters": [{"path": "nvflare.app_common.filters.Nope"}]}]},
            "scopes.0.task_result_filters.0: class nvflare.app_common.filters.Nope cannot be imported",
        ),
        (
            "privacy.json",
            {"scopes": [{"name": "s", "task_result_filters": [{"path": "collections.OrderedDict"}]}]},
            "is not a Filter",
        ),
        (
            "privacy.json",
            {
                "scopes": [
                    {
                        "name": "s",
                        "task_result_filters": [
                            {"path": "nvflare.app_common.filters.dxo_blocker.DXOBlocker", "args": {"data_kinds": []}}
                        ],
                    }
                ]
            },
            "cannot be built: ValueError",
        ),
        ("privacy.json", {"scopes": [{"name": "s"}], "default_scope": "t"}, "default_scope 't'"),
        ("authorization.json", {"format_version": "2.0", "permissions": {}}, "invalid authorization policy"),
        (
            "resources.json",
            {"components": [{"id": "g", "path": "node.site.gate.NoSuchGate"}]},
            "components.0 (g): class node.site.gate.NoSuchGate cannot be imported",
        ),
        (
            "resources.json",
            {"app_validator": {"path": "nvflare.app_common.filters.exclude_vars.ExcludeVars"}},
            "app_validator: nvflare.app_common.filters.exclude_vars.ExcludeVars is not a AppValidator",
        ),
        ("resources.json", {"class_allow_list": ["not a path!"]}, "class_allow_list"),
    ],
)
def test_broken_site_files_are_refused_naming_file_and_entry(
    tmp_path: Path, name: str, doc: dict[str, Any], needle: str
) -> None:
    (tmp_path / name).write_text(json.dumps(doc))
    with pytest.raises(PolicyFileError) as err:
        validate_site_dir(tmp_path)
    assert needle in err.value.message and name in err.value.message


def test_unparseable_site_file_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "resources.json").write_text('{\n  "components": [\n    oops\n  ]\n}')
    with pytest.raises(PolicyFileError) as err:
        validate_site_dir(tmp_path)
    assert err.value.line == 3


def test_filter_arguments_are_checked_at_compile_time() -> None:
    with pytest.raises(PolicyFileError, match="does not take colour"):
        compile_site(policy([{"kind": "percentile_privacy", "args": {"colour": "red"}}]))
    with pytest.raises(PolicyFileError, match="needs max_norm"):
        compile_site(policy([{"kind": "norm_clip"}]))
    assert {f.value for f in ResultFilter} == {k.value for k in FILTERS}


def test_the_sites_job_launcher_replaces_nvflares_and_is_the_only_one() -> None:
    base = {
        "format_version": 2,
        "components": [
            {
                "id": "launcher_x",
                "path": "nvflare.app_common.job_launcher.client_process_launcher.ClientProcessJobLauncher",
                "args": {},
            },
            {"id": "process_launcher", "path": "other.Launcher", "args": {}},
        ],
    }
    res = compile_site(policy(), base_resources=base).resources
    paths = [c["path"] for c in res["components"]]
    assert paths.count("node.site.joblauncher.SiteJobLauncher") == 1
    assert not any("process_launcher." in p or p == "other.Launcher" for p in paths)
