"""Issue 14: every tamper of the audit log by whoever holds the site's disk is caught by `fednode audit verify`
with the pinned key and the signed heads kept off the site (`--anchors`), and by `receipt verify --home`.

The attacker works on state.db with SQL and may use the key file beside it; the auditor holds the site public key
pinned at provisioning and the coordinator's kept heads, both outside the site home.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from policies.audit import AuditEvent, canonical_json, record_hash
from policies.audit._chain import CHECKPOINTED_EVENTS, checkpoint_message
from policies.keys import SiteKey, load_site_key, public_key_pem

EVERY = 1000  # the default: no count-based checkpoint in these small chains


@dataclass
class Scene:
    home: Path
    pinned: Path  # the site public key as pinned at provisioning (outside the home)
    anchors: Path  # the coordinator's kept heads for the site (outside the home)
    a1: int  # the seq of the first kept head
    a2: int  # the seq of the last kept head
    cp_before_a2: int  # a checkpoint (a decision) between the two heads
    end: int  # the chain's last record

    @property
    def db(self) -> Path:
        return self.home / "state.db"

    @property
    def key_file(self) -> Path:
        return self.home / "keys" / "site.ed25519.pem"


def _invoke(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(app, ["--json", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1]), result.output


def _verify(scene: Scene, *more: str, pinned: bool = True, anchors: bool = True) -> tuple[int, dict[str, object]]:
    args = ["audit", "verify", *more]
    if pinned:
        args += ["--public-key", str(scene.pinned)]
    if anchors:
        args += ["--anchors", str(scene.anchors)]
    code, payload, _ = _invoke(*args)
    return code, payload


@pytest.fixture
def scene(fednode_home: Path, tmp_path: Path) -> Scene:
    """A site whose chain holds two jobs' decisions and rounds; the coordinator kept two of its signed heads."""
    from fednode.settings import load_settings
    from policies.state_db import open_state_db

    db = open_state_db(load_settings(home=fednode_home))
    try:
        pinned = tmp_path / "pinned-site.pub"
        pinned.write_text(db.key.public_pem, encoding="ascii")

        def add(event: AuditEvent, job: str, n: int = 1) -> int:
            for i in range(n):
                rec = db.audit.append(event, actor="gate", job_id=job, details={"i": i, "digest": "a" * 64})
            return rec.seq

        add(AuditEvent.JOB_PENDING, "job-1")
        add(AuditEvent.JOB_ROUND, "job-1", 3)
        add(AuditEvent.JOB_APPROVED, "job-1")
        a1 = add(AuditEvent.JOB_ROUND, "job-1", 3)
        head1 = db.audit.signed_head()  # sent with job-1's result
        cp = add(AuditEvent.JOB_PENDING, "job-2")
        a2 = add(AuditEvent.JOB_ROUND, "job-2", 3)
        head2 = db.audit.signed_head()
        end = add(AuditEvent.JOB_ROUND, "job-2", 2)
    finally:
        db.close()
    anchors = tmp_path / "coordinator-heads.jsonl"
    lines = [  # one countersigned wrapper, one bare head
        canonical_json({"type": "audit-anchor", "head": head1.to_json(), "countersignature": "..."}),
        head2.dumps(),
    ]
    anchors.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Scene(fednode_home, pinned, anchors, a1, a2, cp, end)


# --- the attacker's tools -------------------------------------------------------------------------------------


def _sql(scene: Scene, statement: str, *params: object) -> None:
    con = sqlite3.connect(scene.db)
    with con:
        con.execute(statement, params)
    con.close()


def _rewrite(scene: Scene, key: SiteKey, change: Callable[[list[dict[str, object]]], list[dict[str, object]]]) -> None:
    """Rewrite the whole chain as the attacker wants it: renumber, recompute every hash, and sign fresh checkpoints
    (at the first record and every decision, as the site would) with ``key``."""
    con = sqlite3.connect(scene.db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM audit_record ORDER BY seq")]
    rows = change(rows)
    prev, prev_cp = "0" * 64, 0
    with con:
        con.execute("DELETE FROM audit_record")
        con.execute("DELETE FROM audit_checkpoint")
        for seq, row in enumerate(rows, 1):
            details = json.loads(str(row["details_json"]))
            digest = record_hash(
                seq, str(row["at"]), str(row["event"]), str(row["actor"]), row["job_id"], details, prev
            )  # type: ignore[arg-type]
            con.execute(
                "INSERT INTO audit_record (seq, at, event, actor, job_id, details_json, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, row["at"], row["event"], row["actor"], row["job_id"], canonical_json(details), prev, digest),
            )
            if seq == 1 or row["event"] in CHECKPOINTED_EVENTS:
                due = seq + EVERY
                sig = key.sign(checkpoint_message(seq, digest, str(row["at"]), due, key.key_id, prev_cp))
                con.execute(
                    "INSERT INTO audit_checkpoint (seq, hash, at, next_due, key_id, signature) VALUES (?,?,?,?,?,?)",
                    (seq, digest, row["at"], due, key.key_id, sig),
                )
                prev_cp = seq
            prev = digest
    con.close()


def _edit_details(seq: int) -> Callable[[list[dict[str, object]]], list[dict[str, object]]]:
    def change(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        rows[seq - 1]["details_json"] = canonical_json({"i": 99, "digest": "b" * 64})
        return rows

    return change


def _drop(seq: int) -> Callable[[list[dict[str, object]]], list[dict[str, object]]]:
    return lambda rows: [r for r in rows if r["seq"] != seq]


def _disk_key(scene: Scene) -> SiteKey:
    return load_site_key(scene.key_file)


def _swap_key(scene: Scene) -> SiteKey:
    new = SiteKey.generate()
    from cryptography.hazmat.primitives import serialization

    pem = new.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    scene.key_file.write_bytes(pem)
    scene.key_file.with_suffix(".pub").write_text(public_key_pem(new.public_key), encoding="ascii")
    return new


# --- the chain in state.db ------------------------------------------------------------------------------------


def test_untouched_chain_is_intact_against_the_anchors(scene: Scene) -> None:
    code, out = _verify(scene)
    assert code == 0, out
    assert out["status"] == "intact" and out["key_pinned"] is True
    assert (out["anchors"], out["last_anchor_seq"]) == (2, scene.a2)
    assert out["signed"] is True and out["warnings"] == []


def _tamper_edit(scene: Scene) -> None:
    _sql(scene, "UPDATE audit_record SET actor = 'mallory' WHERE seq = ?", scene.a1 - 1)


def _tamper_delete_tail(scene: Scene) -> None:
    # cut the chain back before the last kept head, with the checkpoints that covered the cut records
    _sql(scene, "DELETE FROM audit_record WHERE seq > ?", scene.a2 - 2)
    _sql(scene, "DELETE FROM audit_checkpoint WHERE seq > ?", scene.a2 - 2)


def _tamper_delete_middle_renumber(scene: Scene) -> None:
    _rewrite(scene, _disk_key(scene), _drop(3))


def _tamper_rewrite_rehash(scene: Scene) -> None:
    # a record changed and every later hash recomputed, the signed checkpoints left as they were
    con = sqlite3.connect(scene.db)
    cps = con.execute("SELECT * FROM audit_checkpoint").fetchall()
    con.close()
    _rewrite(scene, SiteKey.generate(), _edit_details(2))
    _sql(scene, "DELETE FROM audit_checkpoint")
    for cp in cps:
        _sql(scene, "INSERT INTO audit_checkpoint VALUES (?, ?, ?, ?, ?, ?)", *cp)


def _tamper_resign_disk_key(scene: Scene) -> None:
    _rewrite(scene, _disk_key(scene), _edit_details(2))


def _tamper_swap_key(scene: Scene) -> None:
    _rewrite(scene, _swap_key(scene), _edit_details(2))


def _tamper_delete_checkpoints(scene: Scene) -> None:
    # cut back to a checkpoint and delete every checkpoint (and record) after it: a consistent, shorter chain
    _sql(scene, "DELETE FROM audit_record WHERE seq > ?", scene.cp_before_a2)
    _sql(scene, "DELETE FROM audit_checkpoint WHERE seq > ?", scene.cp_before_a2)


def _tamper_delete_key(scene: Scene) -> None:
    # the key files gone and the chain rewritten with no signatures at all
    scene.key_file.unlink()
    scene.key_file.with_suffix(".pub").unlink()
    _rewrite(scene, SiteKey.generate(), _edit_details(2))
    _sql(scene, "DELETE FROM audit_checkpoint")


TAMPERS = {
    "edit": _tamper_edit,
    "delete-tail": _tamper_delete_tail,
    "delete-middle-renumber": _tamper_delete_middle_renumber,
    "rewrite-rehash": _tamper_rewrite_rehash,
    "re-sign-with-disk-key": _tamper_resign_disk_key,
    "swap-key": _tamper_swap_key,
    "delete-checkpoints": _tamper_delete_checkpoints,
    "delete-key": _tamper_delete_key,
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_tampered_chain_fails_against_the_anchors(scene: Scene, tamper: str) -> None:
    TAMPERS[tamper](scene)
    keys_before = sorted(p.name for p in (scene.home / "keys").iterdir())
    code, out = _verify(scene)
    assert code == 5, out
    assert out["ok"] is False and "record" in str(out["message"])
    assert sorted(p.name for p in (scene.home / "keys").iterdir()) == keys_before  # no key created


@pytest.mark.parametrize("tamper", ["delete-tail", "re-sign-with-disk-key", "delete-checkpoints"])
def test_what_only_the_anchors_catch(scene: Scene, tamper: str) -> None:
    """These leave a chain that is consistent and signed by the site's own key: only the kept heads tell."""
    TAMPERS[tamper](scene)
    assert _verify(scene, anchors=False)[0] == 0
    assert _verify(scene)[0] == 5


def test_swapped_key_fails_with_the_pinned_key_and_is_unanchored_without(scene: Scene) -> None:
    _tamper_swap_key(scene)
    code, out = _verify(scene, anchors=False)
    assert code == 5 and "another key" in str(out["message"])
    code, out = _verify(scene, pinned=False, anchors=False)  # the key beside state.db: consistent, but unanchored
    assert code == 0 and out["status"] == "unanchored" and out["key_pinned"] is False
    assert any("unanchored" in w for w in out["warnings"])  # type: ignore[union-attr]
    assert _verify(scene, "--strict", pinned=False, anchors=False)[0] == 5


def test_verify_never_creates_a_key(scene: Scene) -> None:
    scene.key_file.unlink()
    scene.key_file.with_suffix(".pub").unlink()
    code, out = _verify(scene, pinned=False, anchors=False)
    assert code == 4 and "--public-key" in str(out["message"])
    assert list((scene.home / "keys").iterdir()) == []
    code, out = _verify(scene)  # the pinned key needs no key file at the site
    assert code == 0 and out["status"] == "intact"
    assert list((scene.home / "keys").iterdir()) == []


def test_unsigned_chain_is_reported_unsigned_and_fails_strict(scene: Scene) -> None:
    # a chain with no decision records whose checkpoints were all deleted: the hashes alone prove nothing
    _sql(scene, "DELETE FROM audit_record WHERE event != 'job:round'")
    _rewrite(scene, SiteKey.generate(), lambda rows: rows)
    _sql(scene, "DELETE FROM audit_checkpoint")
    code, out = _verify(scene, anchors=False)
    assert code == 0 and out["status"] == "unsigned" and out["signed"] is False
    assert any("unsigned" in w for w in out["warnings"])  # type: ignore[union-attr]
    code, out = _verify(scene, "--strict", anchors=False)
    assert code == 5 and "unsigned" in str(out["message"])


def test_anchors_of_another_site_only_are_bad_input(scene: Scene, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    head = json.loads(scene.anchors.read_text().splitlines()[1])
    other.write_text(json.dumps({"heads": [{**head, "site": "site-z"}]}), encoding="utf-8")
    code, out, _ = _invoke("audit", "verify", "--public-key", str(scene.pinned), "--anchors", str(other))
    assert code == 4 and "site-z" in str(out["message"])


def test_forged_anchor_fails(scene: Scene, tmp_path: Path) -> None:
    forged = tmp_path / "forged.json"
    head = json.loads(scene.anchors.read_text().splitlines()[1])
    forged.write_text(json.dumps([{**head, "seq": scene.a1}]), encoding="utf-8")
    code, out, _ = _invoke("audit", "verify", "--public-key", str(scene.pinned), "--anchors", str(forged))
    assert code == 5 and "does not verify" in str(out["message"])


# --- exports --------------------------------------------------------------------------------------------------


@pytest.fixture
def export(scene: Scene, tmp_path: Path) -> Path:
    out = tmp_path / "audit.jsonl"
    code, payload, _ = _invoke("audit", "export", "--out", str(out))
    assert code == 0, payload
    return out


def _verify_file(scene: Scene, path: Path, *more: str) -> tuple[int, dict[str, object]]:
    code, out, _ = _invoke("audit", "verify", "--file", str(path), "--public-key", str(scene.pinned), *more)
    return code, out


def test_export_ends_with_a_signed_head_and_verifies(scene: Scene, export: Path) -> None:
    last = json.loads(export.read_text().splitlines()[-1])
    assert last["type"] == "audit-head" and last["seq"] == scene.end
    code, out = _verify_file(scene, export, "--anchors", str(scene.anchors), "--strict")
    assert code == 0, out
    assert out["status"] == "intact" and out["signed_through"] == scene.end


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: list[dict[str, object]]) -> None:
    path.write_text("".join(canonical_json(line) + "\n" for line in lines), encoding="utf-8")


def _forge_export(lines: list[dict[str, object]], key: SiteKey, site: str) -> list[dict[str, object]]:
    """An export rewritten from record 2 on, every hash recomputed and everything re-signed with ``key``."""
    from policies.audit import SignedHead

    records = [dict(line) for line in lines if line["type"] == "record"]
    records[1]["details"] = {"i": 99}
    prev, prev_cp, cps = "0" * 64, 0, []
    for r in records:
        r["prev_hash"] = prev
        r["hash"] = record_hash(r["seq"], r["at"], r["event"], r["actor"], r["job_id"], r["details"], prev)  # type: ignore[arg-type]
        if r["seq"] == 1 or r["event"] in CHECKPOINTED_EVENTS:
            due = int(r["seq"]) + EVERY  # type: ignore[call-overload]
            sig = key.sign(checkpoint_message(r["seq"], r["hash"], r["at"], due, key.key_id, prev_cp))  # type: ignore[arg-type]
            cps.append(
                {"type": "checkpoint", "seq": r["seq"], "hash": r["hash"], "at": r["at"], "next_due": due}
                | {"key_id": key.key_id, "signature": sig}
            )
            prev_cp = r["seq"]  # type: ignore[assignment]
        prev = str(r["hash"])
    head = SignedHead.sign(key, site=site, seq=int(records[-1]["seq"]), hash_=prev, at="2026-12-05T10:00:00+00:00")  # type: ignore[call-overload]
    return [*records, *cps, head.to_json()]


def test_forged_export_with_another_key_fails(scene: Scene, export: Path, tmp_path: Path) -> None:
    lines = _lines(export)
    forged = tmp_path / "forged.jsonl"
    _write(forged, _forge_export(lines, SiteKey.generate(), str(lines[-1]["site"])))
    code, out = _verify_file(scene, forged)
    assert code == 5, out


def test_forged_export_with_the_disk_key_fails_against_the_anchors(scene: Scene, export: Path, tmp_path: Path) -> None:
    lines = _lines(export)
    forged = tmp_path / "forged.jsonl"
    _write(forged, _forge_export(lines, _disk_key(scene), str(lines[-1]["site"])))
    assert _verify_file(scene, forged)[0] == 0  # the site's own key signed it: only the kept heads tell
    code, out = _verify_file(scene, forged, "--anchors", str(scene.anchors))
    assert code == 5 and "rewritten" in str(out["message"])


@pytest.mark.parametrize("cut", ["head-line", "last-records", "everything-but-the-head"])
def test_cut_export_fails(scene: Scene, export: Path, tmp_path: Path, cut: str) -> None:
    lines = _lines(export)
    if cut == "head-line":
        kept = lines[:-1]
    elif cut == "last-records":
        kept = [x for x in lines if not (x["type"] == "record" and int(x["seq"]) > scene.end - 2)]  # type: ignore[call-overload]
    else:
        kept = lines[-1:]
    path = tmp_path / "cut.jsonl"
    _write(path, kept)
    code, out = _verify_file(scene, path)
    assert code == 5, out
    assert "cut" in str(out["message"])


def test_empty_export_fails(scene: Scene, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert _verify_file(scene, empty)[0] == 4
    legacy = tmp_path / "legacy-empty.jsonl"  # an unsigned head line and nothing else
    legacy.write_text('{"type": "head", "seq": 0, "hash": "' + "0" * 64 + '"}\n', encoding="utf-8")
    assert _verify_file(scene, legacy)[0] == 4


def test_unsigned_legacy_export_is_reported_unsigned(scene: Scene, export: Path, tmp_path: Path) -> None:
    lines = [x for x in _lines(export) if x["type"] == "record"]
    legacy = tmp_path / "legacy.jsonl"
    _write(legacy, [*lines, {"type": "head", "seq": lines[-1]["seq"], "hash": lines[-1]["hash"]}])
    with pytest.raises(AssertionError):  # decision records without their checkpoints: not even consistent
        assert _verify_file(scene, legacy)[0] == 0
    rounds = [x for x in lines if x["event"] == "job:round"]
    _write(legacy, _renumbered(rounds))
    code, out = _verify_file(scene, legacy)
    assert code == 0 and out["status"] == "unsigned", out
    assert _verify_file(scene, legacy, "--strict")[0] == 5


def _renumbered(records: list[dict[str, object]]) -> list[dict[str, object]]:
    prev = "0" * 64
    out: list[dict[str, object]] = []
    for seq, r in enumerate(records, 1):
        h = record_hash(seq, r["at"], r["event"], r["actor"], r["job_id"], r["details"], prev)  # type: ignore[arg-type]
        out.append({**r, "seq": seq, "prev_hash": prev, "hash": h})
        prev = h
    return [*out, {"type": "head", "seq": len(out), "hash": prev}]


# --- receipts -------------------------------------------------------------------------------------------------


def _receipt(home: Path, tmp_path: Path) -> Path:
    from fednode.settings import load_settings
    from policies.registry import ApprovalRules
    from policies.state_db import open_state_db
    from tests.policies.statekit import ALLOW, manifest

    db = open_state_db(load_settings(home=home))
    by_name = {"identity": "name"} if "identity" in {f.name for f in fields(ApprovalRules)} else {}
    db.jobs.rules = ApprovalRules(approvers=("dr.hansen",), **by_name)  # approvals by key: issue 14's other part
    db.jobs.register_pending(manifest("job-r"), ALLOW)
    db.jobs.approve("job-r", "dr.hansen", "ok")
    db.close()
    out = tmp_path / "receipt.json"
    code, payload, _ = _invoke("receipt", "issue", "job-r", "--out", str(out))
    assert code == 0, payload
    return out


def test_receipt_head_is_in_the_chain(scene: Scene, tmp_path: Path) -> None:
    receipt = _receipt(scene.home, tmp_path)
    code, out, _ = _invoke(
        "receipt", "verify", str(receipt), "--public-key", str(scene.pinned), "--home", str(scene.home)
    )
    assert code == 0, out
    assert out["audit_head_in_chain"]["seq"] == json.loads(receipt.read_text())["body"]["audit_head"]["seq"]  # type: ignore[index]


def test_receipt_whose_records_were_deleted_fails(scene: Scene, tmp_path: Path) -> None:
    receipt = _receipt(scene.home, tmp_path)
    seq = int(json.loads(receipt.read_text())["body"]["audit_head"]["seq"])
    # cut the chain back before the receipt's head, checkpoints with it: the rest is consistent and signed
    _sql(scene, "DELETE FROM audit_record WHERE seq >= ?", seq - 1)
    _sql(scene, "DELETE FROM audit_checkpoint WHERE seq >= ?", seq - 1)
    assert _verify(scene, anchors=False)[0] == 0
    code, out, _ = _invoke(
        "receipt", "verify", str(receipt), "--public-key", str(scene.pinned), "--home", str(scene.home)
    )
    assert code == 5 and ("truncated" in str(out["message"]) or "deleted" in str(out["message"])), out
    # without --home the receipt alone still verifies (it says nothing about the chain now)
    assert _invoke("receipt", "verify", str(receipt), "--public-key", str(scene.pinned))[0] == 0


def test_receipt_verify_home_needs_a_site(scene: Scene, tmp_path: Path) -> None:
    receipt = _receipt(scene.home, tmp_path)
    empty = tmp_path / "not-a-site"
    empty.mkdir()
    code, out, _ = _invoke("receipt", "verify", str(receipt), "--public-key", str(scene.pinned), "--home", str(empty))
    assert code == 4 and "--home" in str(out["message"])
    shutil.rmtree(empty)


def test_the_kits_pinned_key_is_used_without_public_key(scene: Scene) -> None:
    kit_key = scene.home / "nvflare-kit" / "local" / "site.pub"
    kit_key.parent.mkdir(parents=True)
    shutil.copy(scene.pinned, kit_key)
    code, out = _verify(scene, pinned=False)
    assert code == 0 and out["key_pinned"] is True and out["key_source"] == str(kit_key)
    _tamper_swap_key(scene)  # the key beside state.db replaced: the kit's key still tells
    code, out = _verify(scene, pinned=False, anchors=False)
    assert code == 5 and "another key" in str(out["message"])


def test_issued_receipt_carries_the_signed_head(scene: Scene, tmp_path: Path) -> None:
    receipt = _receipt(scene.home, tmp_path)
    head = json.loads(receipt.read_text())["body"]["audit_head"]
    assert head["type"] == "audit-head" and head["site"]
    code, out, _ = _invoke(
        "receipt", "verify", str(receipt), "--public-key", str(scene.pinned), "--home", str(scene.home)
    )
    assert code == 0 and out["audit_head_in_chain"]["signed"] is True  # type: ignore[index]


def test_older_receipt_with_a_plain_head_whose_records_were_deleted_fails(scene: Scene, tmp_path: Path) -> None:
    from fednode.settings import load_settings
    from policies.receipts import issue_receipt
    from policies.state_db import open_state_db

    signed = json.loads(_receipt(scene.home, tmp_path).read_text())
    db = open_state_db(load_settings(home=scene.home))
    plain = issue_receipt(db.jobs.get("job-r"), site=db.site, key=db.key, audit_head=db.audit.head())
    db.close()
    path = tmp_path / "plain-receipt.json"
    path.write_text(plain.dumps(), encoding="utf-8")
    args = ("receipt", "verify", str(path), "--public-key", str(scene.pinned), "--home", str(scene.home))
    code, out, _ = _invoke(*args)
    assert code == 0 and out["audit_head_in_chain"]["signed"] is False, out  # type: ignore[index]
    seq = int(signed["body"]["audit_head"]["seq"])
    _sql(scene, "DELETE FROM audit_record WHERE seq >= ?", seq - 1)
    _sql(scene, "DELETE FROM audit_checkpoint WHERE seq >= ?", seq - 1)
    code, out, _ = _invoke(*args)
    assert code == 5 and "deleted" in str(out["message"]), out


def test_legacy_export_with_an_unsigned_tail_warns_and_fails_strict(scene: Scene, export: Path, tmp_path: Path) -> None:
    lines = _lines(export)
    records = [x for x in lines if x["type"] == "record"]
    checkpoints = [x for x in lines if x["type"] == "checkpoint"]
    legacy = tmp_path / "legacy.jsonl"  # records after the last checkpoint, then an unsigned head line
    _write(legacy, [*records, *checkpoints, {"type": "head", "seq": records[-1]["seq"], "hash": records[-1]["hash"]}])
    code, out = _verify_file(scene, legacy)
    assert code == 0 and any("unsigned head" in w for w in out["warnings"]), out  # type: ignore[union-attr]
    assert _verify_file(scene, legacy, "--strict")[0] == 5
