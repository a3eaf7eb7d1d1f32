"""`fednode doctor --coordinator`: each provisioned site's last contact, from what the coordinator recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fednode.settings import Settings
from node.coordinator.anchors import ANCHORS_DIR, AnchorBook
from node.coordinator.doctor import CoordinatorDoctor, diagnose_coordinator, last_contacts
from node.kit.doctor import Status
from policies.audit import SignedHead
from policies.keys import SiteKey

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _keep_head(root: Path, site: str, at: datetime) -> None:
    """The coordinator keeps and countersigns one signed audit head of ``site`` at ``at`` (as the controller does)."""
    site_key = SiteKey.generate()
    book = AnchorBook(root / ANCHORS_DIR, {site: site_key.public_key}, SiteKey.generate())
    head = SignedHead.sign(site_key, site=site, seq=1, hash_="a" * 64, at=at.isoformat(timespec="microseconds"))
    assert book.accept(site, head.to_json(), now=at) is not None


def _rounds(run: Path, *records: dict[str, object]) -> None:
    run.mkdir(parents=True)
    (run / "rounds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_last_contact_is_the_latest_of_kept_heads_and_rounds(tmp_path: Path) -> None:
    _keep_head(tmp_path, "site-a", T0)
    _rounds(
        tmp_path / "job-1",
        {"round": 1, "sites": ["site-a", "site-b"], "at": (T0 - timedelta(hours=1)).isoformat()},
        {"round": 2, "sites": ["site-b"], "at": (T0 + timedelta(minutes=5)).isoformat()},
        {"round": "broken line is skipped"},
    )
    seen = last_contacts([tmp_path])
    assert seen["site-a"] == (T0, "audit head 1 countersigned")
    assert seen["site-b"] == (T0 + timedelta(minutes=5), "a result in job-1 round 2")


def test_each_provisioned_site_gets_a_contact_check(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _keep_head(home / "nvflare", "site-a", T0 - timedelta(hours=3))
    _keep_head(home / "nvflare", "site-old", T0 - timedelta(days=9))
    doctor = CoordinatorDoctor(
        Settings(home=home),
        kit=tmp_path / "no-kit",
        sites=("site-a", "site-old", "site-new"),
        clock=lambda: T0,
    )
    checks = {c.name: c for c in diagnose_coordinator(doctor).checks if c.name.startswith("contact.")}
    assert checks["contact.site-a"].status is Status.PASS
    assert "3.0 h ago, audit head 1 countersigned" in checks["contact.site-a"].measured
    assert checks["contact.site-old"].status is Status.WARN and "9 days ago" in checks["contact.site-old"].measured
    assert checks["contact.site-new"].status is Status.WARN
    assert checks["contact.site-new"].measured == "site-new: never (no result of it has reached this coordinator)"
