"""Approvals signed by the approver's own key: SSHSIG as OpenSSH makes it (ssh-keygen, ssh-agent, FIDO2 sk- keys),
four eyes = two enrolled keys, and refusals for unenrolled keys, keys of others and replayed statements."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from fednode.errors import ApprovalRefusedError
from policies.approver_keys import ApprovalStatement, ApproverKey, SignedApproval, Sshsig, SshsigError
from policies.audit import AuditEvent
from policies.contracts import JobState
from policies.policy_model import ApprovalSection
from policies.ssh_agent import AgentError, SshAgent, sign_with_agent
from policies.state import ApprovalRow
from policies.totp import FileTotpVerifier
from tests.policies.approverkit import SkKey, keygen_sign, make_key, needs_openssh, running_agent
from tests.policies.statekit import ALLOW, DIGEST_B, Site, make_site, manifest


def _refusal_whys(site: Site) -> list[str]:
    return [str(r.details["why"]) for r in site.audit.records(events=[AuditEvent.JOB_APPROVAL_REFUSED])]


@needs_openssh
@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_ssh_keygen_signatures_verify_and_a_changed_byte_does_not(tmp_path: Path, kind: str) -> None:
    private, public = make_key(tmp_path, "dr.hansen", kind)
    armored = keygen_sign(private, b"fednode-approval-v1\njob: job-1\n", tmp_path)
    sig = Sshsig.parse(armored)
    sig.verify(b"fednode-approval-v1\njob: job-1\n", public)
    with pytest.raises(SshsigError, match="does not verify"):
        sig.verify(b"fednode-approval-v1\njob: job-2\n", public)
    _, other = make_key(tmp_path, "mallory", kind)
    with pytest.raises(SshsigError, match="another key"):
        sig.verify(b"fednode-approval-v1\njob: job-1\n", other)


@needs_openssh
def test_another_namespace_is_refused(tmp_path: Path) -> None:
    private, public = make_key(tmp_path, "dr.hansen")
    armored = keygen_sign(private, b"x", tmp_path, namespace="git")
    with pytest.raises(SshsigError, match="namespace"):
        Sshsig.parse(armored).verify(b"x", public)


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_fido2_sk_signatures_need_user_presence(kind: str) -> None:
    sk = SkKey(kind)
    enrolled = ApproverKey.parse(sk.public.openssh + " yubikey")
    assert enrolled.application == b"ssh:"
    Sshsig.parse(sk.sign(b"statement")).verify(b"statement", enrolled)
    with pytest.raises(SshsigError, match="does not verify"):
        Sshsig.parse(sk.sign(b"statement")).verify(b"statemenT", enrolled)
    with pytest.raises(SshsigError, match="presence"):
        Sshsig.parse(sk.sign(b"statement", flags=0x00)).verify(b"statement", enrolled)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ssh-dss AAAAB3NzaC1kc3M=", "not accepted"),
        ("ssh-ed25519 !!!", "base64"),
        ("ssh-ed25519", "type base64"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==", "malformed"),
    ],
)
def test_bad_public_keys_are_refused(text: str, match: str) -> None:
    with pytest.raises(SshsigError, match=match):
        ApproverKey.parse(text)


@needs_openssh
def test_policy_enrols_keys_and_refuses_one_key_for_two_people(tmp_path: Path) -> None:
    _, a = make_key(tmp_path, "a")
    _, b = make_key(tmp_path, "b")
    section = ApprovalSection.model_validate(
        {"approvers": [{"name": "a", "key": a.openssh}, "b"], "keys": {"b": b.openssh}, "required_approvals": 2}
    )
    assert section.approvers == ["a", "b"] and section.identity.value == "key"
    with pytest.raises(ValueError, match="same key"):
        ApprovalSection.model_validate(
            {"approvers": [{"name": "a", "key": a.openssh}, {"name": "b", "key": a.openssh}]}
        )
    with pytest.raises(ValueError, match="not a listed approver"):
        ApprovalSection.model_validate({"approvers": ["a"], "keys": {"z": a.openssh}})


def _keyed_site(tmp_path: Path, *, required: int = 2, totp: object | None = None) -> tuple[Site, dict[str, Path]]:
    """A site whose policy enrols dr.hansen's and dr.larsen's keys (privacy.officer has none)."""
    keys = {who: make_key(tmp_path, who) for who in ("dr.hansen", "dr.larsen")}
    site = make_site(
        tmp_path / "state.db",
        required=required,
        identity="key",
        keys=tuple((who, public) for who, (_, public) in keys.items()),
        totp=totp,
        totp_required=totp is not None,
    )
    return site, {who: private for who, (private, _) in keys.items()}


def _signed(site: Site, job_id: str, private: Path, folder: Path) -> SignedApproval:
    statement = site.jobs.statement(job_id).to_bytes()
    return SignedApproval(statement, keygen_sign(private, statement, folder))


@needs_openssh
def test_four_eyes_with_two_enrolled_keys_through_a_real_agent(tmp_path: Path) -> None:
    site, private = _keyed_site(tmp_path)
    site.jobs.register_pending(manifest(), ALLOW)
    with running_agent(tmp_path, private["dr.hansen"], private["dr.larsen"]) as sock:
        agent = SshAgent(sock)
        with pytest.raises(AgentError, match="several approvers"):
            sign_with_agent(agent, site.jobs.rules, site.jobs.statement("job-1"), None)
        first = site.jobs.approve(
            "job-1",
            None,
            "reviewed",
            signed=sign_with_agent(agent, site.jobs.rules, site.jobs.statement("job-1"), "dr.hansen"),
        )
        assert first.state is JobState.PENDING and first.approvals[0].approver == "dr.hansen"
        second = site.jobs.approve(
            "job-1",
            None,
            "agree",
            signed=sign_with_agent(agent, site.jobs.rules, site.jobs.statement("job-1"), "dr.larsen"),
        )
    assert second.state is JobState.APPROVED
    fingerprints = {a.key_fingerprint for a in second.approvals}
    assert fingerprints == {k.fingerprint for _, k in site.jobs.rules.keys}
    for a in second.approvals:  # others can verify who approved, from the stored statement and signature
        Sshsig.parse(a.signature).verify(a.statement.encode(), site.jobs.rules.key_of(a.approver))  # type: ignore[arg-type]
    approved = site.audit.records(events=[AuditEvent.JOB_APPROVED])[0]
    assert approved.details["keys"] == sorted(fingerprints)
    recorded = site.audit.records(events=[AuditEvent.JOB_APPROVAL_RECORDED])[0]
    assert str(recorded.details["key"]).startswith("SHA256:") and len(str(recorded.details["signature_sha256"])) == 64
    assert "BEGIN SSH SIGNATURE" not in json.dumps([r.details for r in site.audit.records()])


@needs_openssh
def test_unenrolled_key_and_key_of_another_are_refused(tmp_path: Path) -> None:
    site, private = _keyed_site(tmp_path)
    site.jobs.register_pending(manifest(), ALLOW)
    stranger, _ = make_key(tmp_path, "mallory")
    with pytest.raises(ApprovalRefusedError, match="not enrolled"):
        site.jobs.approve("job-1", None, "trust me", signed=_signed(site, "job-1", stranger, tmp_path))
    with pytest.raises(ApprovalRefusedError, match=r"enrolled for 'dr\.hansen', not 'dr\.larsen'"):
        site.jobs.approve("job-1", "dr.larsen", "hm", signed=_signed(site, "job-1", private["dr.hansen"], tmp_path))
    assert site.jobs.get("job-1").approvals == ()
    assert _refusal_whys(site) == ["key_not_enrolled", "key_of_another"]
    refused = site.audit.records(events=[AuditEvent.JOB_APPROVAL_REFUSED])
    assert all(str(r.details["key"]).startswith("SHA256:") for r in refused)


@needs_openssh
def test_a_statement_replayed_for_another_digest_job_or_decision_is_refused(tmp_path: Path) -> None:
    site, private = _keyed_site(tmp_path)
    site.jobs.register_pending(manifest("job-1"), ALLOW)
    site.jobs.register_pending(manifest("job-2"), ALLOW)
    signed = _signed(site, "job-1", private["dr.hansen"], tmp_path)
    with pytest.raises(ApprovalRefusedError, match="differs in job"):
        site.jobs.approve("job-2", None, "replay", signed=signed)
    # a statement for the code the approver saw (digest A) does not approve other code (digest B)
    site.jobs.register_pending(manifest("job-3", digest=DIGEST_B), ALLOW)
    meta = site.jobs.statement("job-3").meta_digest
    at = site.clock()
    for fields, differ in (
        (("job-3", manifest().digest, meta, "site-a", "approve"), "app-digest"),
        (("job-3", DIGEST_B, "0" * 64, "site-b", "reject"), "meta-digest, site, decision"),
    ):
        text = ApprovalStatement(*fields, at).to_bytes()
        signed_other = SignedApproval(text, keygen_sign(private["dr.hansen"], text, tmp_path))
        with pytest.raises(ApprovalRefusedError, match=f"differs in {differ}"):
            site.jobs.approve("job-3", None, "x", signed=signed_other)
    assert site.jobs.get("job-3").approvals == ()
    assert _refusal_whys(site) == ["statement_mismatch"] * 3


@needs_openssh
def test_one_key_cannot_approve_twice_and_an_old_statement_is_stale(tmp_path: Path) -> None:
    site, private = _keyed_site(tmp_path)
    site.jobs.register_pending(manifest(), ALLOW)
    site.jobs.approve("job-1", None, "ok", signed=_signed(site, "job-1", private["dr.hansen"], tmp_path))
    with pytest.raises(ApprovalRefusedError, match="already decided"):
        site.jobs.approve("job-1", None, "again", signed=_signed(site, "job-1", private["dr.hansen"], tmp_path))
    old = _signed(site, "job-1", private["dr.larsen"], tmp_path)
    site.clock.now += timedelta(days=2)
    with pytest.raises(ApprovalRefusedError, match="24 hours old"):
        site.jobs.approve("job-1", None, "late", signed=old)
    assert site.jobs.get("job-1").state is JobState.PENDING


@needs_openssh
def test_one_operator_with_the_hosts_files_alone_cannot_meet_four_eyes(tmp_path: Path) -> None:
    """Everything under the site home (state.db, policy, TOTP secrets) is the operator's; the keys are not."""
    totp = FileTotpVerifier(tmp_path / "totp")
    secrets = {who: totp.enroll(who, site="site-a").secret for who in ("dr.hansen", "dr.larsen")}
    site, _ = _keyed_site(tmp_path, totp=totp)
    site.jobs.register_pending(manifest(), ALLOW)
    for who, secret in secrets.items():  # the operator reads both secrets and types both names
        code = pyotp.TOTP(secret).at(site.clock())
        with pytest.raises(ApprovalRefusedError, match="signed by your own key"):
            site.jobs.approve("job-1", who, "as both", totp_code=code)
    own, _ = make_key(tmp_path, "operator")  # a key of their own is not enrolled
    with pytest.raises(ApprovalRefusedError, match="not enrolled"):
        site.jobs.approve("job-1", "dr.hansen", "as both", signed=_signed(site, "job-1", own, tmp_path))
    assert site.jobs.get("job-1").approvals == ()
    with site.store.read() as s:
        assert s.query(ApprovalRow).count() == 0


def test_an_unreadable_signature_is_refused_and_audited(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", identity="key")
    site.jobs.register_pending(manifest(), ALLOW)
    with pytest.raises(ApprovalRefusedError, match="unreadable"):
        site.jobs.approve("job-1", None, "x", signed=SignedApproval(b"x", "-----BEGIN SSH SIGNATURE-----\nAAAA\n"))
    assert _refusal_whys(site) == ["signature_malformed"]


def test_fido2_key_approves_through_the_service(tmp_path: Path) -> None:
    sk = SkKey()
    site = make_site(tmp_path / "state.db", identity="key", keys=(("dr.hansen", sk.public),))
    site.jobs.register_pending(manifest(), ALLOW)
    statement = site.jobs.statement("job-1").to_bytes()
    record = site.jobs.approve("job-1", None, "touch", signed=SignedApproval(statement, sk.sign(statement)))
    assert record.state is JobState.APPROVED and record.approvals[0].key_fingerprint == sk.public.fingerprint


@needs_openssh
def test_the_receipt_carries_the_approvers_signatures_and_others_can_check_them(tmp_path: Path) -> None:
    from fednode.errors import SignatureError
    from node.site.receipts import receipt_shape_problem
    from policies.receipts import Receipt, approver_signatures_problem, issue_receipt, verify_receipt

    site, private = _keyed_site(tmp_path)
    site.jobs.register_pending(manifest(), ALLOW)
    for who in ("dr.hansen", "dr.larsen"):
        site.jobs.approve("job-1", None, "ok", signed=_signed(site, "job-1", private[who], tmp_path))
    receipt = issue_receipt(site.jobs.get("job-1"), site="site-a", key=site.key, clock=site.clock)
    shape = json.loads(receipt.dumps())
    shape["body"]["policy_digest"] = "0" * 64  # statekit's verdict names no real policy digest
    assert receipt_shape_problem(shape) is None  # the egress guard lets the signed form leave
    enrolled = dict(site.jobs.rules.keys)
    body = verify_receipt(Receipt.loads(receipt.dumps()), site.key.public_key, enrolled=enrolled)
    assert {a["key"] for a in body["approvers"]} == {k.fingerprint for k in enrolled.values()}
    swapped = {"dr.hansen": enrolled["dr.larsen"], "dr.larsen": enrolled["dr.hansen"]}
    with pytest.raises(SignatureError, match="did not sign with the key the site policy enrols"):
        verify_receipt(receipt, site.key.public_key, enrolled=swapped)
    forged = json.loads(receipt.dumps())["body"]
    forged["approvers"][1]["statement"] = forged["approvers"][1]["statement"].replace("job-1", "job-2")
    assert "does not verify" in str(approver_signatures_problem(forged, None))
    forged["approvers"][1] = forged["approvers"][0]  # one key counted twice
    assert "twice" in str(approver_signatures_problem(forged, None))
    unsigned = json.loads(receipt.dumps())["body"]
    for a in unsigned["approvers"]:
        del a["signature"], a["statement"], a["key"]
    assert approver_signatures_problem(unsigned, None) is None  # a name-mode site's receipt
    assert "without a signature" in str(approver_signatures_problem(unsigned, enrolled))
