"""Creditability: how reliable each site has been, kept by the coordinator across rounds and studies.

Every round the controller hands the keeper (:class:`CreditKeeper`) what it saw of each site it sent the task to,
and the keeper writes one row per site and round into ``fednode-credit.db`` (SQLite) in the coordinator's workspace,
beside the anchored audit heads (``fednode-anchors/``), so the record outlives a job and a restart:

- ``status``: ``on_time`` (among the first ``min_clients`` results), ``late`` (arrived while the round waited
  ``wait_after_min_s`` for more), ``missed`` (no reply before the round closed), ``refused`` (its own site refused to
  send: an error reply, e.g. the egress guard blocked it, the review or the privacy budget refused it, or an empty
  result; counted only: the reason never leaves the site), ``rejected`` (refused here: an audit-chain alarm or a
  non-finite update);
- ``norm``, ``norm_ratio`` (to the round's median norm) and ``norm_z`` (z-score among the round's updates);
- ``trust``: FLTrust's trust score and ``trust_rel`` (over the round's highest), where FLTrust is the rule;
- ``loo``: the leave-one-out contribution: the loss of the global model on a small slice of the coordinator's public
  root set without that site's update minus the loss with every update (positive: the site helps; negative: the
  model is better without it). It costs k + 1 forward passes over ``loo_size`` sentences (``loo=False`` skips it);
- ``weight`` the site's update received and the policy's ``action`` (``downweight``/``exclude``).

The creditability over a site's last ``window`` rounds (every study) is the product of four parts in [0, 1]::

    attendance   A = (on_time + 0.5 * late) / rounds asked
    norm         N = mean over answered rounds of min(1, t * r, t / r)    r = norm / round median, t = norm_tolerance
    trust        T = mean trust_rel over FLTrust rounds                    (1 where FLTrust was not used)
    contribution C = mean over rounds of min(1, exp(loo / (harm_scale * loss)))   (1 where not measured)
    score = A * N * T * C

A site that answers on time with an update like the others' and does not make the model worse scores 1; a site
that misses every other round about 0.5; one whose update is ten times the others' 0.3 from its norm alone, and
near 0 once leaving it out lowers the loss.

Under secure aggregation the coordinator never sees one site's update: only attendance is recorded and the
policy cannot act.

With ``min_score`` set, a site whose score (this round's attendance and norm included) is below it after at least
``min_rounds`` rounds is down-weighted (its example weight times its score: FedAvg, FedProx, SCAFFOLD, norm
clipping, geometric median) or excluded from the round's aggregate (any rule; never below the quorum), and the
round's line in ``rounds.jsonl`` and the log say so.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fednode.errors import BadInputError, ConfigError

if TYPE_CHECKING:  # torch only where a round is measured: `fednode sites` reads the record without it
    import torch

    from node.ml.aggregation import AggregationResult, ClientUpdate
    from node.ml.aggregation._types import Aggregator, StateDict

log = logging.getLogger("fednode.node.coordinator.credit")

CREDIT_DB = "fednode-credit.db"
"""Inside the coordinator's workspace root, beside ``fednode-anchors/``: one row per site and round."""
ON_TIME, LATE, MISSED, REFUSED, REJECTED = "on_time", "late", "missed", "refused", "rejected"
STATUSES = (ON_TIME, LATE, MISSED, REFUSED, REJECTED)
ACTIONS = ("downweight", "exclude")
EXAMPLE_WEIGHTED = ("fedavg", "fedprox", "scaffold", "norm_clipping", "geometric_median")
"""The rules whose weights come from the example counts: down-weighting acts through them."""
_SCALE = 1000
"""Example counts are multiplied by this before a down-weight so that a fraction of one still counts."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    job_id TEXT NOT NULL, study TEXT NOT NULL, round INTEGER NOT NULL, site TEXT NOT NULL, status TEXT NOT NULL,
    norm REAL, norm_ratio REAL, norm_z REAL, trust REAL, trust_rel REAL, loo REAL, loo_score REAL,
    weight REAL, action TEXT NOT NULL DEFAULT '', at TEXT NOT NULL,
    PRIMARY KEY (job_id, round, site)
)
"""


@dataclass(frozen=True)
class CreditConfig:
    """The controller's ``credit`` argument (a mapping with these keys; every one optional)."""

    record: bool = True
    """Keep the record at all."""
    loo: bool = True
    """Measure the leave-one-out contribution (k + 1 forward passes over ``loo_size`` root-set sentences)."""
    loo_size: int = 32
    min_score: float | None = None
    """The policy's threshold; ``None``: no policy, only the record."""
    action: str = "downweight"
    min_rounds: int = 1
    """Rounds of a site's record (this one included) before the policy judges it."""
    window: int = 20
    """The creditability looks at a site's last ``window`` rounds (across studies)."""
    norm_tolerance: float = 3.0
    harm_scale: float = 0.05

    @classmethod
    def from_args(cls, args: Mapping[str, Any] | None, *, algorithm: str = "fedavg") -> CreditConfig:
        """Check the controller's ``credit`` argument; :class:`ConfigError` names what is wrong."""
        args = dict(args or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(args) - known)
        if unknown:
            raise ConfigError(f"credit: unknown settings {unknown}; use {', '.join(sorted(known))}")
        try:
            config = cls(
                record=bool(args.get("record", True)),
                loo=bool(args.get("loo", True)),
                loo_size=int(args.get("loo_size", 32)),
                min_score=None if args.get("min_score") is None else float(args["min_score"]),
                action=str(args.get("action", "downweight")),
                min_rounds=int(args.get("min_rounds", 1)),
                window=int(args.get("window", 20)),
                norm_tolerance=float(args.get("norm_tolerance", 3.0)),
                harm_scale=float(args.get("harm_scale", 0.05)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"credit: {exc}") from None
        if config.action not in ACTIONS:
            raise ConfigError(f"credit.action: {config.action!r}; use {' or '.join(ACTIONS)}")
        if config.min_score is not None and not 0.0 <= config.min_score <= 1.0:
            raise ConfigError(f"credit.min_score: {config.min_score} is not between 0 and 1")
        if config.min_score is not None and config.action == "downweight" and algorithm not in EXAMPLE_WEIGHTED:
            raise ConfigError(
                f"credit.action downweight: {algorithm} does not weight sites by their examples; use exclude"
            )
        if config.loo_size < 1 or config.min_rounds < 1 or config.window < 1:
            raise ConfigError("credit: loo_size, min_rounds and window must be at least 1")
        if config.norm_tolerance < 1.0 or config.harm_scale <= 0.0:
            raise ConfigError("credit: norm_tolerance must be at least 1 and harm_scale above 0")
        return config


@dataclass
class SiteRound:
    """One site in one round: what the coordinator saw of it (one row of ``fednode-credit.db``)."""

    job_id: str
    study: str
    round: int
    site: str
    status: str
    norm: float | None = None
    norm_ratio: float | None = None
    norm_z: float | None = None
    trust: float | None = None
    trust_rel: float | None = None
    loo: float | None = None
    loo_score: float | None = None
    weight: float | None = None
    action: str = ""
    at: str = ""


@dataclass(frozen=True)
class SiteCredit:
    """A site's record summed up over some rounds, and its creditability."""

    site: str
    asked: int
    on_time: int
    late: int
    missed: int
    refused: int
    rejected: int
    studies: int
    attendance: float
    norm_ratio: float | None
    norm_part: float
    trust: float | None
    trust_part: float
    loo: float | None
    contribution_part: float
    score: float
    excluded: int = 0
    downweighted: int = 0
    last_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def norm_part(ratio: float, tolerance: float) -> float:
    """1 while the norm is within ``tolerance`` times the round's median either way, falling off beyond."""
    if not math.isfinite(ratio) or ratio <= 0.0:
        return 0.0
    return min(1.0, tolerance * ratio, tolerance / ratio)


def contribution_part(loo: float, loss: float, harm_scale: float) -> float:
    """1 when leaving the site out does not lower the loss; ``exp(loo / (harm_scale * loss))`` when it does."""
    if loo >= 0.0:
        return 1.0
    return math.exp(loo / max(harm_scale * abs(loss), 1e-12))


def summarize(site: str, rows: Sequence[SiteRound], config: CreditConfig | None = None) -> SiteCredit:
    """The creditability of ``site`` from its ``rows`` (the formula in the module docstring)."""
    config = config or CreditConfig()
    counts = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    asked = len(rows)
    attendance = (counts[ON_TIME] + 0.5 * counts[LATE]) / asked if asked else 0.0
    answered = [r for r in rows if r.status in (ON_TIME, LATE)]
    norm_parts = [norm_part(r.norm_ratio, config.norm_tolerance) for r in answered if r.norm_ratio is not None]
    n_part = sum(norm_parts) / len(norm_parts) if norm_parts else 1.0
    trust_rel = _mean([r.trust_rel for r in rows])
    c_part = _mean([r.loo_score for r in rows])
    score = attendance * n_part * (1.0 if trust_rel is None else trust_rel) * (1.0 if c_part is None else c_part)
    ratios = [r.norm_ratio for r in answered if r.norm_ratio is not None]
    return SiteCredit(
        site=site,
        asked=asked,
        on_time=counts[ON_TIME],
        late=counts[LATE],
        missed=counts[MISSED],
        refused=counts[REFUSED],
        rejected=counts[REJECTED],
        studies=len({r.job_id for r in rows}),
        attendance=attendance,
        norm_ratio=statistics.median(ratios) if ratios else None,
        norm_part=n_part,
        trust=_mean([r.trust for r in rows]),
        trust_part=1.0 if trust_rel is None else trust_rel,
        loo=_mean([r.loo for r in rows]),
        contribution_part=1.0 if c_part is None else c_part,
        score=score,
        excluded=sum(1 for r in rows if r.action == "exclude"),
        downweighted=sum(1 for r in rows if r.action == "downweight"),
        last_at=max((r.at for r in rows), default=""),
    )


_FIELDS = tuple(SiteRound.__dataclass_fields__)
_INSERT = f"INSERT OR REPLACE INTO rounds ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"  # noqa: S608  # our own column names
_SELECT = f"SELECT {', '.join(_FIELDS)} FROM rounds"  # noqa: S608  # our own column names


# -- the store --------------------------------------------------------------------------------------------------
class CreditStore:
    """``fednode-credit.db``: one row per site and round; ``readonly`` opens an existing file and never writes."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        if readonly and not path.is_file():
            raise BadInputError("no such credit record", file=str(path))
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        uri = f"file:{self.path}?mode=ro" if self.readonly else f"file:{self.path}"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=10.0)
        except sqlite3.Error as exc:
            raise BadInputError(f"cannot open the credit record ({exc})", file=str(self.path)) from None
        try:
            with db:
                yield db
        except sqlite3.DatabaseError as exc:
            raise BadInputError(f"not a credit record ({exc})", file=str(self.path)) from None
        finally:
            db.close()

    def add(self, rows: Sequence[SiteRound]) -> None:
        with self._connect() as db:
            db.executemany(_INSERT, [tuple(getattr(r, n) for n in _FIELDS) for r in rows])

    def rows(self, *, site: str | None = None, job_id: str | None = None, last: int | None = None) -> list[SiteRound]:
        """Rows in the order they were written (``last``: only a site's last N; needs ``site``)."""
        where, params = [], []
        if site is not None:
            where.append("site = ?")
            params.append(site)
        if job_id is not None:
            where.append("job_id = ?")
            params.append(job_id)
        sql = _SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, rowid DESC" if last is not None else " ORDER BY at, rowid"
        if last is not None:
            sql += f" LIMIT {int(last)}"
        with self._connect() as db:
            found = [SiteRound(**dict(zip(_FIELDS, row, strict=True))) for row in db.execute(sql, params)]
        return found[::-1] if last is not None else found

    def sites(self, *, job_id: str | None = None) -> list[str]:
        sql, params = "SELECT DISTINCT site FROM rounds", []
        if job_id is not None:
            sql += " WHERE job_id = ?"
            params.append(job_id)
        with self._connect() as db:
            return sorted(str(r[0]) for r in db.execute(sql, params))

    def credit(self, config: CreditConfig | None = None, *, job_id: str | None = None) -> dict[str, SiteCredit]:
        """Every site's creditability: over its last ``window`` rounds, or over the rounds of ``job_id``."""
        config = config or CreditConfig()
        out: dict[str, SiteCredit] = {}
        for site in self.sites(job_id=job_id):
            rows = self.rows(site=site, job_id=job_id) if job_id else self.rows(site=site, last=config.window)
            out[site] = summarize(site, rows, config)
        return out


def _norm(update: Mapping[str, torch.Tensor]) -> float:
    """The L2 norm of an update's floating-point entries together (float32 per tensor: one pass, no copies)."""
    import torch

    parts = [
        torch.linalg.vector_norm(v.detach(), dtype=torch.float32) for v in update.values() if v.is_floating_point()
    ]
    return float(torch.linalg.vector_norm(torch.stack(parts))) if parts else 0.0


def find_credit_db(roots: Sequence[Path]) -> Path | None:
    """The first ``fednode-credit.db`` under the coordinator workspace roots, or ``None`` (creates nothing)."""
    for root in roots:
        path = root / CREDIT_DB
        if path.is_file():
            return path
    return None


# -- leave-one-out ------------------------------------------------------------------------------------------------
def leave_one_out(
    aggregator: Aggregator, updates: Sequence[ClientUpdate], outcome: AggregationResult
) -> dict[str, StateDict]:
    """For each site, the round's aggregate update without it (no training: FLTrust's from its trust scores, a
    weighted mean's (FedAvg, FedProx, SCAFFOLD) by taking the site's share out of it, every other rule by
    aggregating the others again)."""
    import torch

    from node.ml.aggregation import FedAvg, FLTrust, Scaffold, l2_norm

    inner: Any = getattr(aggregator, "inner", aggregator)
    out: dict[str, StateDict] = {}
    if len(updates) == 1:
        return {updates[0].site: {k: torch.zeros_like(v) for k, v in outcome.update.items()}}
    if isinstance(inner, FLTrust):
        root_norm = float(outcome.info.get("root_norm", 0.0))
        trust = {u.site: float(outcome.info.get(f"trust.{u.site}", 0.0)) for u in updates}
        total = sum(trust.values())
        for u in updates:
            rest = total - trust[u.site]
            if rest <= 0.0:
                out[u.site] = {k: torch.zeros_like(v) for k, v in outcome.update.items()}
                continue
            scale = trust[u.site] * root_norm / max(l2_norm(u.update), 1e-12)
            out[u.site] = {k: (v * total - scale * u.update[k].to(v.dtype)) / rest for k, v in outcome.update.items()}
        return out
    if isinstance(inner, FedAvg | Scaffold):
        lr = inner.server_lr if isinstance(inner, Scaffold) else 1.0
        for u in updates:
            w = float(outcome.weights.get(u.site, 0.0))
            if w >= 1.0 - 1e-9:
                out[u.site] = {k: torch.zeros_like(v) for k, v in outcome.update.items()}
                continue
            out[u.site] = {k: (v - (lr * w) * u.update[k].to(v.dtype)) / (1.0 - w) for k, v in outcome.update.items()}
        return out
    for u in updates:
        out[u.site] = inner.aggregate([o for o in updates if o.site != u.site]).update
    return out


class RootLoss:
    """The global model's mean token loss on a small slice of the coordinator's public root set (forward only).

    The slice skips the first ``skip`` sentences (those FLTrust trains its root update on) when the file has
    enough of them."""

    def __init__(self, path: Path, model_spec: str, *, size: int, skip: int = 0, seed: int = 0) -> None:
        self.path, self.model_spec, self.size, self.skip, self.seed = path, model_spec, size, skip, seed
        self._loaded: tuple[Any, Any] | None = None

    def __call__(self, state: StateDict) -> float:
        from node.ml.ner import encode_for, evaluate, load_ner_model, read_conll

        if self._loaded is None:
            examples = read_conll(self.path, limit=self.skip + self.size)
            chosen = examples[self.skip :] if len(examples) > self.skip else examples[: self.size]
            if not chosen:
                raise ConfigError(f"credit: root set {self.path.name} has no sentences")
            model = load_ner_model(self.model_spec, seed=self.seed)
            self._loaded = (model, encode_for(chosen, model))
        model, data = self._loaded
        return float(evaluate(dict(state), data, model=model).loss)


# -- the keeper ---------------------------------------------------------------------------------------------------
@dataclass
class CreditKeeper:
    """The controller's side: observe a round, apply the policy, measure, write the record.

    Call :meth:`site_refused` for each error reply of the round, :meth:`before_aggregate` with what arrived
    (returns the updates the policy lets through), :meth:`after_aggregate` with the outcome; :meth:`round_line`
    is the round's ``credit`` entry in ``rounds.jsonl``, :meth:`study_figures` each site's figures for the
    provenance.
    """

    config: CreditConfig
    store: CreditStore | None = None
    job_id: str = ""
    study: str = ""
    loss_fn: Callable[[StateDict], float] | None = None
    quorum: int = 1
    """The policy never excludes below this many updates (the controller's ``min_clients``)."""
    _refused: set[str] = field(default_factory=set)
    _blind: bool = False
    """The round's updates are not visible one by one (secure aggregation): attendance only."""
    _pending: dict[str, SiteRound] = field(default_factory=dict)
    _line: dict[str, Any] = field(default_factory=dict)
    _rows: list[SiteRound] = field(default_factory=list)

    def site_refused(self, site: str) -> None:
        """A site's error reply (its own site refused or failed to send); the count is all that is kept."""
        self._refused.add(site)

    def before_aggregate(
        self,
        rnd: int,
        targets: Sequence[str],
        arrival: Sequence[str],
        updates: Sequence[ClientUpdate],
        *,
        min_responses: int,
        rejected: Sequence[str] = (),
    ) -> list[ClientUpdate]:
        """Record who answered (``arrival``: every result's site in the order NVFlare received them) and apply the
        policy; return the updates to aggregate."""
        refused, self._refused = set(self._refused), set()
        if not self.config.record:
            return list(updates)
        at = datetime.now(UTC).isoformat()
        usable = {u.site: u for u in updates}
        self._blind = bool(updates) and all(not u.update for u in updates)
        position = {site: i for i, site in reversed(list(enumerate(arrival)))}
        norms = {u.site: _norm(u.update) for u in updates}
        finite = [n for n in norms.values() if math.isfinite(n)]
        median = statistics.median(finite) if finite else 0.0
        mean = statistics.fmean(finite) if finite else 0.0
        spread = statistics.pstdev(finite) if len(finite) > 1 else 0.0
        pending: dict[str, SiteRound] = {}
        for site in sorted(set(targets) | set(usable)):
            row = SiteRound(self.job_id, self.study, rnd, site, MISSED, at=at)
            if site in usable:
                row.status = ON_TIME if position.get(site, 0) < min_responses else LATE
                n = norms[site]
                if math.isfinite(n) and not self._blind:
                    row.norm = n
                    row.norm_ratio = n / median if median > 0 else 1.0
                    row.norm_z = (n - mean) / spread if spread > 0 else 0.0
            elif site in rejected:
                row.status = REJECTED
            elif site in refused or site in arrival:
                row.status = REFUSED
            pending[site] = row
        self._pending = pending
        self._line = {}
        return self._apply_policy(list(updates))

    def _apply_policy(self, updates: list[ClientUpdate]) -> list[ClientUpdate]:
        min_score = self.config.min_score
        if min_score is None:
            return updates
        if self._blind:  # securely aggregated: the sum is already formed, no single update can be taken out
            log.warning("credit.policy_blind (secure aggregation: attendance recorded, no site left out)")
            return updates
        judged: dict[str, float] = {}
        for u in updates:
            history = [*self._history(u.site), self._pending[u.site]]
            if len(history) >= self.config.min_rounds:
                score = summarize(u.site, history, self.config).score
                if score < min_score:
                    judged[u.site] = score
        if not judged:
            return updates
        if self.config.action == "exclude":
            keep_at_least = max(1, min(len(updates), self.quorum))
            out = list(updates)
            for site in sorted(judged, key=lambda s: judged[s]):
                if len(out) <= keep_at_least:
                    log.warning(
                        "credit.kept site=%s score=%.3f (excluding it would break the quorum)", site, judged[site]
                    )
                    continue
                out = [u for u in out if u.site != site]
                self._pending[site].action = "exclude"
                log.warning("credit.excluded site=%s score=%.3f min_score=%.3f", site, judged[site], min_score)
            return out
        out = []
        for u in updates:
            factor = max(judged[u.site], 1e-3) if u.site in judged else 1.0
            out.append(replace(u, num_examples=max(1, round(u.num_examples * _SCALE * factor))))
            if u.site in judged:
                self._pending[u.site].action = "downweight"
                log.warning("credit.downweighted site=%s score=%.3f factor=%.3f", u.site, judged[u.site], factor)
        return out

    def _history(self, site: str) -> list[SiteRound]:
        """The site's rows before this round (the last ``window - 1``)."""
        window = self.config.window - 1
        if window <= 0:
            return []
        if self.store is not None:
            try:
                return self.store.rows(site=site, last=window)
            except BadInputError as exc:
                log.error("credit.unreadable reason=%s", exc.message)
        return [r for r in self._rows if r.site == site][-window:]

    def after_aggregate(
        self,
        aggregator: Aggregator,
        updates: Sequence[ClientUpdate],
        outcome: AggregationResult,
        state: Mapping[str, torch.Tensor],
    ) -> None:
        """Trust, weights and the leave-one-out contribution of the aggregated ``updates``; write the round."""
        if not self.config.record or not self._pending:
            return
        for site in outcome.rejected:
            if site in self._pending:
                self._pending[site].status = REJECTED
        trust = {u.site: outcome.info[f"trust.{u.site}"] for u in updates if f"trust.{u.site}" in outcome.info}
        top = max(trust.values(), default=0.0)
        for site, value in trust.items():
            self._pending[site].trust = float(value)
            self._pending[site].trust_rel = float(value) / top if top > 0 else 0.0
        for site, row in self._pending.items():
            if row.status in (ON_TIME, LATE):
                row.weight = float(outcome.weights.get(site, 0.0))
        kept = [u for u in updates if u.site not in outcome.rejected]
        if self.config.loo and self.loss_fn is not None and kept and not self._blind:
            self._measure_loo(aggregator, kept, outcome, state)
        rows = list(self._pending.values())
        self._rows.extend(rows)
        if self.store is not None:
            try:
                self.store.add(rows)
            except BadInputError as exc:
                log.error("credit.unwritten reason=%s", exc.message)
        scores = {site: self._score(site) for site in self._pending}
        self._line.update(
            {
                site: {
                    "status": row.status,
                    "score": round(scores[site], 4),
                    **({"action": row.action} if row.action else {}),
                    **({"norm_ratio": round(row.norm_ratio, 4)} if row.norm_ratio is not None else {}),
                    **({"loo": round(row.loo, 6)} if row.loo is not None else {}),
                }
                for site, row in sorted(self._pending.items())
            }
        )
        self._pending = {}

    def _measure_loo(
        self,
        aggregator: Aggregator,
        kept: Sequence[ClientUpdate],
        outcome: AggregationResult,
        state: Mapping[str, torch.Tensor],
    ) -> None:
        from node.ml.aggregation import apply_update

        assert self.loss_fn is not None
        started = time.perf_counter()
        try:
            without = leave_one_out(aggregator, kept, outcome)
            full = self.loss_fn(apply_update(state, outcome.update))
            for site, update in without.items():
                loo = self.loss_fn(apply_update(state, update)) - full
                row = self._pending[site]
                row.loo = loo
                row.loo_score = contribution_part(loo, full, self.config.harm_scale)
        except Exception as exc:  # the record goes on without the contribution; the round is not lost for it
            log.warning("credit.loo_failed kind=%s", type(exc).__name__)
            return
        self._line["_loo"] = {"seconds": round(time.perf_counter() - started, 4), "evaluations": len(without) + 1}

    def _score(self, site: str) -> float:
        rows = [r for r in self._rows if r.site == site][-self.config.window :]
        if self.store is not None:
            with contextlib.suppress(BadInputError):
                rows = self.store.rows(site=site, last=self.config.window)
        return summarize(site, rows, self.config).score

    def round_line(self) -> dict[str, Any]:
        """The last round's ``credit`` entry for ``rounds.jsonl`` (per site: status, score, action, figures)."""
        return dict(self._line)

    def study_figures(self) -> dict[str, dict[str, Any]]:
        """Each site's figures over this study's rounds (for the signed model's provenance)."""
        rows = self._rows
        if self.store is not None:  # a resumed job's rounds before its restart too
            with contextlib.suppress(BadInputError):
                rows = self.store.rows(job_id=self.job_id) or rows
        sites = sorted({r.site for r in rows})
        return {s: summarize(s, [r for r in rows if r.site == s], self.config).to_json() for s in sites}


def open_keeper(
    config: CreditConfig,
    workspace: Path,
    *,
    job_id: str,
    study: str,
    model_spec: str,
    root_set: Path,
    root_skip: int = 0,
    seed: int = 0,
    quorum: int = 1,
) -> CreditKeeper:
    """The keeper for one job: its store in ``workspace`` (kept in memory only if the file cannot be opened) and
    the leave-one-out loss on ``root_set``."""
    store = None
    if config.record:
        try:
            store = CreditStore(workspace / CREDIT_DB)
        except (BadInputError, OSError) as exc:
            log.error("credit.store_unavailable kind=%s (this job's record stays in memory)", type(exc).__name__)
    loss = RootLoss(root_set, model_spec, size=config.loo_size, skip=root_skip, seed=seed) if config.loo else None
    return CreditKeeper(config, store, job_id=job_id, study=study, loss_fn=loss, quorum=quorum)
