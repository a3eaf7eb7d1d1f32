"""`fednode doctor` at a site: each check broken on purpose reports its cause (loopback only, bounded in time)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fednode.settings import FlSettings, PolicySettings, Settings
from node.kit.doctor import Check, Report, Status, Target
from node.site.doctor import NEEDS_KIT, SITE_CHECKS, SiteDoctor, diagnose_site
from node.site.doctor._local import check_state
from node.site.doctor._network import check_clock, check_proxy
from tests.node.doctor_pki import (
    NOW,
    Issued,
    free_port,
    issue,
    make_ca,
    tls_server,
    write_site_kit,
)

EXAMPLE_POLICY = Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml"
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca()


@pytest.fixture(scope="module")
def server(ca: Issued) -> Issued:
    return issue(ca, "localhost", server=True)


@pytest.fixture(scope="module")
def client(ca: Issued) -> Issued:
    return issue(ca, "site-a")


def _settings(tmp: Path, policy: Path | None = None) -> Settings:
    return Settings(home=tmp / "home", policy=PolicySettings(policy_file=policy or tmp / "no-policy.yaml"))


def _diagnose(tmp: Path, kit: Path, *, policy: Path | None = None, **kw: object) -> Report:
    return diagnose_site(SiteDoctor(_settings(tmp, policy), kit=kit, timeout=TIMEOUT, **kw))  # type: ignore[arg-type]


def _check(report: Report, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


def _policy_named(tmp: Path, name: str) -> Path:
    doc = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    doc["site"]["name"] = name
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_a_reachable_coordinator_passes_kit_dns_tcp_and_tls(
    tmp_path: Path, ca: Issued, server: Issued, client: Issued
) -> None:
    with tls_server(tmp_path, server, trusts=ca) as port:
        kit = write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}")
        report = _diagnose(tmp_path, kit, policy=_policy_named(tmp_path, "site-a"))
    assert [c.name for c in report.checks] == list(SITE_CHECKS)
    for name in ("kit", "kit.certificate", "kit.name", "dns", "tcp", "tls"):
        assert _check(report, name).status is Status.PASS, _check(report, name)
    assert "days left" in _check(report, "kit.certificate").measured
    tls = _check(report, "tls").measured
    assert "mutual TLS with localhost" in tls and "ALPN h2" in tls and "answered HTTP/2" in tls
    assert f"127.0.0.1:{port} connected in" in _check(report, "tcp").measured
    assert not report.ok and "state" in report.failed  # an empty home: no site state yet


def test_a_closed_port_is_refused_not_timed_out(tmp_path: Path, ca: Issued, client: Issued) -> None:
    port = free_port()
    report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, f"127.0.0.1:{port}"))
    tcp = _check(report, "tcp")
    assert tcp.status is Status.FAIL and f"TCP 127.0.0.1:{port} refused in" in tcp.measured
    assert "nothing listens" in tcp.remedy
    assert _check(report, "tls").status is Status.SKIP


def _backlog_drops_syns() -> bool:
    """Linux drops SYNs to a listener whose accept queue is full (tcp_abort_on_overflow 0): a local firewall."""
    path = Path("/proc/sys/net/ipv4/tcp_abort_on_overflow")
    return path.is_file() and path.read_text().strip() == "0"


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A listening socket whose accept backlog is full: further connections are dropped, as a firewall does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield port
    finally:
        filler.close()
        listener.close()


@pytest.mark.skipif(not _backlog_drops_syns(), reason="this kernel answers a full backlog with a reset")
def test_dropped_packets_time_out(tmp_path: Path, ca: Issued, client: Issued, full_listener: int) -> None:
    kit = write_site_kit(tmp_path / "kit", ca, client, f"127.0.0.1:{full_listener}")
    tcp = _check(diagnose_site(SiteDoctor(_settings(tmp_path), kit=kit, timeout=0.3)), "tcp")
    assert tcp.status is Status.FAIL and "timed out after 0.3 s" in tcp.measured
    assert "firewall" in tcp.remedy


def test_a_server_that_never_speaks_tls_is_a_handshake_timeout(
    tmp_path: Path, ca: Issued, server: Issued, client: Issued
) -> None:
    with tls_server(tmp_path, server, trusts=ca, speak=False) as port:
        kit = write_site_kit(tmp_path / "kit", ca, client, f"127.0.0.1:{port}")
        report = diagnose_site(SiteDoctor(_settings(tmp_path), kit=kit, timeout=0.3))
    assert _check(report, "tcp").status is Status.PASS
    tls = _check(report, "tls")
    assert tls.status is Status.FAIL and "TLS handshake" in tls.measured and "timed out after 0.3 s" in tls.measured


def test_a_server_from_another_provisioning_fails_this_sides_verification(
    tmp_path: Path, ca: Issued, client: Issued
) -> None:
    other = make_ca("another-project")
    with tls_server(tmp_path, issue(other, "localhost", server=True), trusts=ca) as port:
        report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}"))
    tls = _check(report, "tls")
    assert tls.status is Status.FAIL
    assert "does not check out against the kit's root CA" in tls.measured and "local issuer" in tls.measured
    assert "another provisioning" in tls.remedy


def test_a_coordinator_that_does_not_know_the_kits_ca_says_unknown_ca(
    tmp_path: Path, ca: Issued, server: Issued, client: Issued
) -> None:
    with tls_server(tmp_path, server, trusts=make_ca("another-project")) as port:
        report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}"))
    tls = _check(report, "tls")
    assert tls.status is Status.FAIL and "unknown CA" in tls.measured, tls


def test_an_expired_certificate(tmp_path: Path, ca: Issued) -> None:
    old = issue(ca, "site-a", not_before=NOW - timedelta(days=400), days=365)
    report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, old, f"127.0.0.1:{free_port()}"))
    cert = _check(report, "kit.certificate")
    assert cert.status is Status.FAIL and "expired on" in cert.measured and "35 days ago" in cert.measured
    assert "new startup kit" in cert.remedy


def test_a_certificate_close_to_expiry_warns(tmp_path: Path, ca: Issued) -> None:
    soon = issue(ca, "site-a", days=10)
    report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, soon, f"127.0.0.1:{free_port()}"))
    cert = _check(report, "kit.certificate")
    assert cert.status is Status.WARN and "(9 days left)" in cert.measured


def test_a_certificate_of_another_ca_than_the_kits_root(tmp_path: Path, ca: Issued) -> None:
    foreign = issue(make_ca("another-project"), "site-a")
    report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, foreign, f"127.0.0.1:{free_port()}"))
    cert = _check(report, "kit.certificate")
    assert cert.status is Status.FAIL and "not signed by the kit's root CA 'fednode'" in cert.measured


def test_a_kit_for_another_site_than_the_policy_names(tmp_path: Path, ca: Issued, client: Issued) -> None:
    kit = write_site_kit(tmp_path / "kit", ca, client, f"127.0.0.1:{free_port()}")
    report = _diagnose(tmp_path, kit, policy=_policy_named(tmp_path, "site-oslo"))
    name = _check(report, "kit.name")
    assert name.status is Status.FAIL
    assert "for 'site-a', but the site policy's site.name names this site 'site-oslo'" in name.measured


def test_an_unresolvable_coordinator_host(tmp_path: Path, ca: Issued, client: Issued) -> None:
    report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, "coordinator.invalid:8002"))
    dns = _check(report, "dns")
    assert dns.status is Status.FAIL and "coordinator.invalid does not resolve" in dns.measured
    assert [_check(report, n).status for n in ("tcp", "tls")] == [Status.SKIP, Status.SKIP]


def test_no_kit_skips_the_network_and_says_where_it_looked(tmp_path: Path) -> None:
    report = _diagnose(tmp_path, tmp_path / "nowhere")
    assert _check(report, "kit").measured == f"no startup kit at {tmp_path / 'nowhere'}"
    assert {_check(report, n).status for n in NEEDS_KIT} == {Status.SKIP}


def test_a_clock_behind_the_coordinators_certificate(
    tmp_path: Path, ca: Issued, server: Issued, client: Issued
) -> None:
    behind = NOW - timedelta(days=2)
    with tls_server(tmp_path, server, trusts=ca) as port:
        kit = write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}")
        report = _diagnose(tmp_path, kit, clock=lambda: behind)
    clock = _check(report, "clock")
    assert clock.status is Status.FAIL and "after this machine's clock" in clock.measured
    assert "NTP" in clock.remedy


def _state_db(path: Path, anchor_json: str | None = None) -> None:
    """A state.db in WAL mode with the tables the doctor reads (as SQLite leaves it once the site stopped)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE audit_record (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE job (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY, seq INTEGER, anchor_json TEXT)")
    db.execute("INSERT INTO audit_record DEFAULT VALUES")
    if anchor_json is not None:
        db.execute("INSERT INTO audit_anchor (seq, anchor_json) VALUES (1, ?)", (anchor_json,))
    db.commit()
    db.close()


def test_state_db_is_read_without_creating_wal_or_shm_files(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.home.mkdir()
    _state_db(settings.state_db_path)
    before = sorted(p.name for p in settings.home.iterdir())
    check = check_state(settings)
    assert check.status is Status.PASS and "1 audit records, 0 jobs" in check.measured
    assert sorted(p.name for p in settings.home.iterdir()) == before == ["state.db"]


def test_the_clock_from_the_last_countersigned_audit_head(tmp_path: Path) -> None:
    signed = NOW.replace(microsecond=0)
    anchor = '{"head": {"at": "%s"}, "countersigned_at": "%s"}' % (  # noqa: UP031  # JSON braces
        signed.isoformat(),
        (signed - timedelta(minutes=5)).isoformat(),
    )
    _state_db(tmp_path / "state.db", anchor)
    check = check_clock(now=NOW, peer=None, state_db=tmp_path / "state.db", target=Target("localhost", 8002))
    assert check.status is Status.WARN and "at least 5 min ahead of the coordinator's" in check.measured


def test_no_time_to_compare_is_an_honest_skip(tmp_path: Path) -> None:
    check = check_clock(now=NOW, peer=None, state_db=tmp_path / "state.db", target=Target("localhost", 8002))
    assert check.status is Status.SKIP and "tells none before a site registers" in check.measured


@pytest.mark.parametrize(
    ("env", "status", "said"),
    [
        ({}, Status.PASS, "no proxy variable set"),
        ({"HTTPS_PROXY": "http://bob:secret@proxy.example:3128"}, Status.WARN, "bob:***@proxy.example"),
        ({"grpc_proxy": "http://proxy:3128", "no_proxy": ".example.org"}, Status.PASS, "exempts fl.example.org"),
        ({"http_proxy": "http://proxy:3128", "no_proxy": "other.org"}, Status.WARN, "through this proxy"),
    ],
)
def test_proxy_variables_that_would_intercept_grpc(env: dict[str, str], status: Status, said: str) -> None:
    check = check_proxy(env, Target("fl.example.org", 8002))
    assert check.status is status and said in check.measured
    assert "secret" not in check.measured


@pytest.fixture
def grpc_server(ca: Issued, server: Issued) -> Iterator[Callable[[Issued], int]]:
    """A real gRPC server with mutual TLS, as NVFlare's driver builds it (``require_client_auth``); the function
    starts one trusting the given CA and returns its port."""
    import grpc  # type: ignore[import-untyped]  # grpcio ships no type hints (NVFlare brings it)

    started: list[Any] = []

    def start(trusts: Issued) -> int:
        creds = grpc.ssl_server_credentials(
            [(server.key_pem(), server.cert_pem())], root_certificates=trusts.cert_pem(), require_client_auth=True
        )
        srv = grpc.server(ThreadPoolExecutor(max_workers=1))
        port = int(srv.add_secure_port("127.0.0.1:0", creds))
        srv.start()
        started.append(srv)
        return port

    yield start
    for srv in started:
        srv.stop(0)


def test_a_real_grpc_server_answers_http2(
    tmp_path: Path, ca: Issued, client: Issued, grpc_server: Callable[[Issued], int]
) -> None:
    port = grpc_server(ca)
    tls = _check(_diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}")), "tls")
    assert tls.status is Status.PASS and "the server answered HTTP/2" in tls.measured


def test_a_real_grpc_server_refusing_the_kit_hangs_up_after_the_handshake(
    tmp_path: Path, ca: Issued, client: Issued, grpc_server: Callable[[Issued], int]
) -> None:
    port = grpc_server(make_ca("another-project"))
    tls = _check(_diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}")), "tls")
    assert tls.status is Status.FAIL
    assert "closed the connection" in tls.measured and "refused this kit's certificate" in tls.remedy


@pytest.mark.parametrize(("listed", "status"), [("fednode-test", Status.PASS), ("Another Consortium", Status.WARN)])
def test_the_coordinators_certificate_against_the_policys_participants(
    tmp_path: Path, ca: Issued, server: Issued, client: Issued, listed: str, status: Status
) -> None:
    policy = _policy_named(tmp_path, "site-a")
    doc = yaml.safe_load(policy.read_text(encoding="utf-8"))
    doc["participants"]["coordinators"] = [{"name": "localhost", "org": listed}]
    policy.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with tls_server(tmp_path, server, trusts=ca) as port:
        report = _diagnose(tmp_path, write_site_kit(tmp_path / "kit", ca, client, f"localhost:{port}"), policy=policy)
    check = _check(report, "policy.coordinator")
    assert check.status is status and "localhost / fednode-test" in check.measured


def test_a_damaged_fed_client_json(tmp_path: Path, ca: Issued, client: Issued) -> None:
    kit = write_site_kit(tmp_path / "kit", ca, client, "localhost:8002")
    (kit / "startup" / "fed_client.json").write_text('{"servers": [\n', encoding="utf-8")
    check = _check(_diagnose(tmp_path, kit), "kit")
    assert check.status is Status.FAIL and "fed_client.json: not valid JSON (line 2)" in check.measured
    (kit / "startup" / "fed_client.json").write_text('{"servers": [{"service": {"target": "nohost"}}]}', "utf-8")
    assert "no coordinator address" in _check(_diagnose(tmp_path, kit), "kit").measured


def test_the_models_check_looks_where_the_trainer_and_deid_load_from(tmp_path: Path) -> None:
    """The doctor names the models without loading torch or Presidio; these are the names those modules use."""
    from deid.nlp import ENGLISH_MODEL
    from node.ml.ner.model import default_model_dir
    from node.site.doctor._local import SPACY_MODEL, _bundled_minilm, check_models

    assert SPACY_MODEL == ENGLISH_MODEL and _bundled_minilm() == default_model_dir()
    assert check_models(_settings(tmp_path)).status is Status.PASS
    broken = Settings(home=tmp_path, fl=FlSettings(model_dir=tmp_path))
    check = check_models(broken)
    assert check.status is Status.FAIL and f"{tmp_path} (no config.json, a tokenizer, weights)" in check.measured


def test_a_gpu_asked_for_but_not_there(tmp_path: Path) -> None:
    from node.site.doctor._local import check_gpu

    assert check_gpu(_settings(tmp_path)).status is Status.SKIP
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    check = check_gpu(Settings(home=tmp_path, fl=FlSettings(device="cuda")))
    assert check.status is Status.FAIL and "torch sees no CUDA device" in check.measured


def test_no_sandbox_fails_only_where_the_policy_allows_byoc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from node.site import sandbox
    from node.site.doctor._local import check_sandbox
    from policies.policy_model import load_policy

    none = sandbox.SandboxSupport(False, 0, "cannot confine job code: the kernel has no Landlock", False, False, False)
    monkeypatch.setattr(sandbox, "probe", lambda: none)
    doc = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    doc["jobs"]["kinds"] = ["config_only", "byoc"]
    path = tmp_path / "byoc.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert check_sandbox(load_policy(path)).status is Status.FAIL
    assert check_sandbox(None).status is Status.WARN


def test_the_site_key_the_kit_pins(tmp_path: Path, ca: Issued, client: Issued) -> None:
    from node.site.doctor._kit import SiteKit, check_pinned_key
    from policies.keys import load_or_create_site_key

    key_path = tmp_path / "keys" / "site.ed25519.pem"
    kit = SiteKit(write_site_kit(tmp_path / "kit", ca, client, "localhost:8002"), Target("localhost", 8002), "site-a")
    assert check_pinned_key(kit, key_path).status is Status.WARN  # provisioned without --site-key
    (kit.root / "local").mkdir()
    pinned = load_or_create_site_key(tmp_path / "pinned")
    (kit.root / "local" / "site.pub").write_text(pinned.public_pem, encoding="utf-8")
    assert check_pinned_key(kit, key_path).status is Status.SKIP  # no key yet: the boot installs it
    own = load_or_create_site_key(key_path)
    check = check_pinned_key(kit, key_path)
    assert check.status is Status.FAIL
    assert f"pins site key {pinned.key_id}, but this site signs with {own.key_id}" in check.measured
    assert check_pinned_key(kit, tmp_path / "pinned").status is Status.PASS
