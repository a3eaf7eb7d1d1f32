"""`fednode study anchors`: the sites' audit heads the coordinator kept, as a `fednode audit verify --anchors` file
(issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from node.cli import app
from node.coordinator.anchors import ANCHORS_DIR, AnchorBook
from node.kit.layout import FEDERATION_FILE, Federation
from policies.audit import SignedHead, find_heads
from policies.keys import SiteKey


def _federation(tmp_path: Path) -> tuple[Path, Path]:
    root, server = tmp_path / "federation", tmp_path / "server"
    root.mkdir()
    server.mkdir()
    fed = Federation("fednode", root, "localhost", server, "admin", tmp_path / "admin", {}, 8002, 8002)
    (root / FEDERATION_FILE).write_text(json.dumps(fed.to_json()), encoding="utf-8")
    return root, server


def _run(tmp_path: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "--json", "study", "anchors", *args])
    return res.exit_code, json.loads(res.stdout.strip().splitlines()[-1])


def test_the_kept_heads_are_listed_and_written_for_audit_verify(tmp_path: Path) -> None:
    root, server = _federation(tmp_path)
    code, payload = _run(tmp_path, "--federation", str(root))
    assert code == 4 and "kept no audit heads" in payload["message"]  # nothing kept yet is not success
    key = SiteKey.generate()
    book = AnchorBook(server / ANCHORS_DIR, {"site-1": key.public_key}, SiteKey.generate())
    heads = [
        SignedHead.sign(key, site="site-1", seq=seq, hash_=f"{seq:064x}", at=f"2026-12-05T10:00:0{seq}.000000+00:00")
        for seq in (3, 5)
    ]
    for head in heads:
        book.accept("site-1", head.to_json())
    out = tmp_path / "heads.jsonl"
    code, payload = _run(tmp_path, "--federation", str(root), "--out", str(out))
    assert code == 0 and payload["sites"] == {"site-1": {"heads": 2, "last_seq": 5}}
    assert [find_heads(json.loads(line))[0] for line in out.read_text().splitlines()] == heads
    code, payload = _run(tmp_path, "--federation", str(root), "--site", "site-9")
    assert code == 4 and "site-9" in payload["message"]
