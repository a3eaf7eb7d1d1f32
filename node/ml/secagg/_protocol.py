"""The four stages of pairwise-masking secure aggregation (Bonawitz et al., CCS 2017), one round at a time.

==============  ============================================================================================
stage           what happens
==============  ============================================================================================
advertise       each site makes two fresh X25519 key pairs (``c``: to encrypt shares, ``s``: to agree masks)
                and signs their public halves, its example count, the job and the round with its kit identity
share           each site checks every advertisement against its own kit's root CA (no substituted key), draws
                a self-mask seed ``b`` and Shamir-shares ``b`` and its ``s`` private key among the advertised
                sites (``threshold`` of them recover a secret); each peer's pair of shares travels encrypted
                (AES-GCM under the peers' agreed ``c`` key), so the coordinator relays what it cannot read
masked input    each site encodes ``w * clip(update)`` in the ring (:class:`FixedPoint`, ``w = n / n_total``),
                adds the PRG expansion of ``b`` and, for every peer ``v`` that shared, ``+PRG(s_uv)`` if its
                name sorts before ``v`` and ``-PRG(s_uv)`` after: the pairwise masks cancel in the sum
unmask          the coordinator names the survivors; each survivor returns its shares of the survivors' ``b``
                and of the dropped sites' ``s`` keys (never both for one site: it answers once per round); the
                coordinator rebuilds them, removes the self masks and the dropped sites' pairwise masks
==============  ============================================================================================

A round fails with :class:`~fednode.errors.SecureAggregationError` (naming the stage) as soon as fewer than
``threshold`` sites remain. ``threshold`` must exceed half the advertised sites (so no two disjoint groups of
answers can reveal both halves of one site's masks) and be at least 2 (the sum of one site is its update).

The coordinator learns the sum of the survivors' weighted updates, each site's example count (signed, as in plain
FedAvg), and who dropped out; one site's masked input is indistinguishable from uniform noise without the masks.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fednode.errors import SecureAggregationError, SignatureError
from node.ml.secagg import _shamir
from node.ml.secagg._identity import SiteIdentity, TrustAnchor
from node.ml.secagg._primitives import (
    KEY_BYTES,
    agree,
    apply_masks,
    derive,
    new_x25519,
    open_sealed,
    private_bytes,
    public_bytes,
    public_of,
    seal,
)
from node.ml.secagg._ring import Array, FixedPoint, Layout

VERSION = "fednode-secagg-v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise SecureAggregationError(f"{what} is not base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise SecureAggregationError(f"{what} is not base64 text") from exc


@dataclass(frozen=True)
class RoundContext:
    """What every message of one round is bound to: the job, the round, the threshold and the ring."""

    job_id: str
    round: int
    threshold: int
    ring: FixedPoint = field(default_factory=FixedPoint)

    def label(self, purpose: str, *parts: str) -> bytes:
        """Unambiguous bytes binding a key derivation, encryption or signature to this round and purpose."""
        return json.dumps([VERSION, purpose, self.job_id, self.round, *parts], separators=(",", ":")).encode()

    def check_group(self, sites: Sequence[str], stage: str) -> None:
        """Refuse the round when ``sites`` is below the threshold (or the threshold is unsafe for the group)."""
        if self.threshold < 2:
            raise SecureAggregationError(f"{stage}: the threshold must be at least 2, not {self.threshold}")
        if len(sites) < self.threshold:
            raise SecureAggregationError(
                f"{stage}: {len(sites)} sites remain, fewer than the threshold of {self.threshold}"
            )

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "round": self.round, "threshold": self.threshold, "ring": self.ring.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoundContext:
        try:
            return cls(
                str(data["job_id"]), int(data["round"]), int(data["threshold"]), FixedPoint.from_json(data["ring"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SecureAggregationError("the secure-aggregation round description is malformed") from exc


def check_threshold(threshold: int, advertised: int, stage: str) -> None:
    """``threshold`` must be a strict majority of the ``advertised`` sites (and at least 2)."""
    if 2 * threshold <= advertised:
        raise SecureAggregationError(
            f"{stage}: a threshold of {threshold} is not a majority of the {advertised} advertised sites"
        )


@dataclass(frozen=True)
class Advert:
    """One site's signed key advertisement."""

    site: str
    c_pk: bytes
    s_pk: bytes
    num_examples: int
    cert_pem: bytes
    signature: bytes

    def signed_bytes(self, context: RoundContext) -> bytes:
        return context.label("advert", self.site, self.c_pk.hex(), self.s_pk.hex(), str(self.num_examples))

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "c_pk": _b64(self.c_pk),
            "s_pk": _b64(self.s_pk),
            "num_examples": self.num_examples,
            "cert": self.cert_pem.decode("ascii"),
            "signature": _b64(self.signature),
        }

    @classmethod
    def from_json(cls, data: object) -> Advert:
        if not isinstance(data, Mapping):
            raise SecureAggregationError("a key advertisement is not an object")
        site, num, cert = data.get("site"), data.get("num_examples"), data.get("cert")
        if not isinstance(site, str) or not site or not isinstance(num, int) or num < 1 or not isinstance(cert, str):
            raise SecureAggregationError("a key advertisement lacks its site, example count or certificate")
        advert = cls(
            site=site,
            c_pk=_unb64(data.get("c_pk"), "an advertised key"),
            s_pk=_unb64(data.get("s_pk"), "an advertised key"),
            num_examples=num,
            cert_pem=cert.encode("ascii", "replace"),
            signature=_unb64(data.get("signature"), "an advertisement's signature"),
        )
        if len(advert.c_pk) != KEY_BYTES or len(advert.s_pk) != KEY_BYTES:
            raise SecureAggregationError(f"{site}'s advertised keys are not X25519 public keys")
        return advert


def parse_adverts(adverts: Sequence[object]) -> dict[str, Advert]:
    out: dict[str, Advert] = {}
    for raw in adverts:
        advert = Advert.from_json(raw)
        if advert.site in out:
            raise SecureAggregationError(f"share: {advert.site} advertised twice")
        out[advert.site] = advert
    return dict(sorted(out.items()))


def _points(sites: Sequence[str]) -> dict[str, int]:
    """Each site's Shamir point: its 1-based position among the advertised sites in name order."""
    return {site: i + 1 for i, site in enumerate(sorted(sites))}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


class SecAggClient:
    """One site's side of one round. Call :meth:`advertise`, :meth:`share`, :meth:`mask`, :meth:`unmask` in order."""

    def __init__(
        self,
        identity: SiteIdentity,
        anchor: TrustAnchor,
        context: RoundContext,
        *,
        randbytes: Callable[[int], bytes] = os.urandom,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.identity = identity
        self.anchor = anchor
        self.context = context
        self._randbytes = randbytes
        self._now = now
        self._c_key = new_x25519(randbytes)
        self._s_key = new_x25519(randbytes)
        self._num_examples = 0
        self._adverts: dict[str, Advert] = {}
        self._seed = b""
        self._own: tuple[bytes, bytes] = (b"", b"")
        self._held: dict[str, tuple[bytes, bytes]] = {}
        """Owner site -> (share of its ``b``, share of its ``s`` key) this site holds."""
        self._answered = False

    @property
    def site(self) -> str:
        return self.identity.name

    @property
    def peers(self) -> tuple[str, ...]:
        """The sites whose shares this site holds (after :meth:`mask`), itself included."""
        return tuple(sorted(self._held))

    # -- stage 1 -------------------------------------------------------------------------------------------------
    def advertise(self, num_examples: int) -> dict[str, Any]:
        """This site's signed advertisement (``num_examples`` >= 1 weighs its update)."""
        if num_examples < 1:
            raise SecureAggregationError("advertise: a site needs at least one example")
        self._num_examples = num_examples
        unsigned = Advert(
            self.site, public_bytes(self._c_key), public_bytes(self._s_key), num_examples, self.identity.cert_pem, b""
        )
        signature = self.identity.sign(unsigned.signed_bytes(self.context))
        return Advert(**{**unsigned.__dict__, "signature": signature}).to_json()

    # -- stage 2 -------------------------------------------------------------------------------------------------
    def share(self, adverts: Sequence[object]) -> dict[str, str]:
        """Verify every advertisement (raises :class:`SignatureError` on a substituted key); return the encrypted
        shares for each peer (peer -> base64)."""
        parsed = parse_adverts(adverts)
        mine = parsed.get(self.site)
        if mine is None or (mine.c_pk, mine.s_pk) != (public_bytes(self._c_key), public_bytes(self._s_key)):
            raise SignatureError("share: this site's own advertisement is missing or was changed")
        if mine.num_examples != self._num_examples:
            raise SignatureError("share: this site's own advertisement was changed")
        now = self._now()
        for site, advert in parsed.items():
            if site != self.site:
                self.anchor.verify(site, advert.cert_pem, advert.signature, advert.signed_bytes(self.context), now)
        self.context.check_group(list(parsed), "share")
        check_threshold(self.context.threshold, len(parsed), "share")
        self._adverts = parsed
        points = _points(list(parsed))
        self._seed = self._randbytes(KEY_BYTES)
        xs = list(points.values())
        b_shares = _shamir.split(self._seed, xs, self.context.threshold, self._randbytes)
        s_shares = _shamir.split(private_bytes(self._s_key), xs, self.context.threshold, self._randbytes)
        out: dict[str, str] = {}
        for peer, x in points.items():
            if peer == self.site:
                self._own = (b_shares[x], s_shares[x])
                continue
            key = agree(self._c_key, parsed[peer].c_pk, self.context.label("share-key", *_pair(self.site, peer)))
            body = json.dumps({"b": b_shares[x].hex(), "s": s_shares[x].hex()}).encode()
            out[peer] = _b64(seal(key, body, self.context.label("share", self.site, peer), self._randbytes))
        return out

    # -- stage 3 -------------------------------------------------------------------------------------------------
    def mask(self, update: Mapping[str, Array], received: Mapping[str, str]) -> dict[str, Array]:
        """The masked ring encoding of ``update`` (same names and shapes, the ring's unsigned dtype).

        ``received``: sender -> the encrypted shares it sent this site; those senders are the peers masked with.
        """
        if not self._adverts:
            raise SecureAggregationError("masked input: the share stage did not run")
        self._held = {self.site: self._own}
        for sender, sealed in sorted(received.items()):
            if sender == self.site or sender not in self._adverts:
                raise SecureAggregationError("masked input: shares came from a site that did not advertise")
            key = agree(
                self._c_key, self._adverts[sender].c_pk, self.context.label("share-key", *_pair(self.site, sender))
            )
            body = open_sealed(
                key, _unb64(sealed, "an encrypted share"), self.context.label("share", sender, self.site)
            )
            try:
                parts = json.loads(body)
                self._held[sender] = (bytes.fromhex(parts["b"]), bytes.fromhex(parts["s"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise SecureAggregationError("masked input: a decrypted share is malformed") from exc
        self.context.check_group(list(self._held), "masked input")
        ring = self.context.ring
        total = sum(a.num_examples for a in self._adverts.values())
        layout = Layout.of(update)
        flat = ring.encode(layout.flatten(update, np.result_type(*update.values())), self._num_examples / total)
        masks = [(derive(self._seed, self.context.label("self-mask", self.site)), False)]
        for peer in self._held:
            if peer != self.site:
                label = self.context.label("pair-mask", *_pair(self.site, peer))
                masks.append((agree(self._s_key, self._adverts[peer].s_pk, label), self.site > peer))
        apply_masks(flat, masks)
        return layout.split(flat)

    # -- stage 4 -------------------------------------------------------------------------------------------------
    def unmask(self, survivors: Sequence[str]) -> dict[str, dict[str, str]]:
        """Shares for the coordinator: ``{"b": {survivor: share}, "s": {dropped: share}}`` (hex). Answers once."""
        if self._answered:
            raise SecureAggregationError("unmask: this site already answered for this round")
        alive = sorted(set(survivors))
        if self.site not in alive or not set(alive) <= set(self._held):
            raise SecureAggregationError("unmask: the survivors named are not among the sites that shared")
        self.context.check_group(alive, "unmask")
        self._answered = True
        dropped = sorted(set(self._held) - set(alive))
        return {
            "b": {site: self._held[site][0].hex() for site in alive},
            "s": {site: self._held[site][1].hex() for site in dropped},
        }


@dataclass(frozen=True)
class SecAggSum:
    """What the coordinator learns: the sum of the survivors' weighted updates and who took part."""

    total: dict[str, Array]
    """``sum(w_i * clip(update_i))`` over the survivors, float64."""
    weight: float
    """``sum(w_i)`` over the survivors (1.0 when nobody dropped)."""
    sites: tuple[str, ...]
    recovered: tuple[str, ...]
    """Sites that shared but sent no masked input: their pairwise masks were removed from the shares."""
    num_examples: Mapping[str, int]

    def mean(self) -> dict[str, Array]:
        """The example-weighted mean of the survivors' updates (FedAvg)."""
        return {k: v / self.weight for k, v in self.total.items()}


class SecAggServer:
    """The coordinator's side of one round: relays, sums the masked inputs, unmasks the sum."""

    def __init__(self, context: RoundContext) -> None:
        self.context = context
        self._adverts: dict[str, Advert] = {}
        self._shared: tuple[str, ...] = ()
        self._layout: Layout | None = None
        self._sum: Array | None = None
        self._masked: list[str] = []

    @property
    def advertised(self) -> tuple[str, ...]:
        return tuple(self._adverts)

    @property
    def shared(self) -> tuple[str, ...]:
        return self._shared

    @property
    def survivors(self) -> tuple[str, ...]:
        return tuple(sorted(self._masked))

    def collect_adverts(self, received: Mapping[str, object]) -> list[dict[str, Any]]:
        """The advertisements to relay to every site (each must be the sender's own)."""
        adverts = parse_adverts(list(received.values()))
        for sender, raw in received.items():
            if isinstance(raw, Mapping) and raw.get("site") != sender:
                raise SecureAggregationError(f"advertise: {sender} sent an advertisement for another site")
        self.context.check_group(list(adverts), "advertise")
        check_threshold(self.context.threshold, len(adverts), "advertise")
        self._adverts = adverts
        return [a.to_json() for a in adverts.values()]

    def route_shares(self, received: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
        """recipient -> {sender: encrypted shares}; the senders that shared with every advertised peer count."""
        complete = sorted(
            s for s, shares in received.items() if s in self._adverts and set(shares) == set(self._adverts) - {s}
        )
        self.context.check_group(complete, "share")
        self._shared = tuple(complete)
        return {r: {s: str(received[s][r]) for s in complete if s != r} for r in complete}

    def add_masked(self, site: str, masked: Mapping[str, Array]) -> None:
        """Add one site's masked input to the running sum (it must match the first one's names and shapes)."""
        if site not in self._shared or site in self._masked:
            raise SecureAggregationError(f"masked input: unexpected or repeated input from {site}")
        dtype = self.context.ring.dtype
        layout = Layout.of(masked)
        if self._layout is not None and layout != self._layout:
            raise SecureAggregationError(f"masked input: {site}'s tensors differ from the others' names or shapes")
        if any(np.asarray(v).dtype != dtype for v in masked.values()):
            raise SecureAggregationError(f"masked input: {site}'s tensors are not {dtype.name} ring elements")
        flat = layout.flatten(masked, dtype)
        if self._sum is None:
            self._layout, self._sum = layout, flat.copy()
        else:
            np.add(self._sum, flat, out=self._sum)
        self._masked.append(site)

    def unmask_request(self) -> list[str]:
        """The survivors to name in the unmask stage (refuses the round below the threshold)."""
        self.context.check_group(self.survivors, "masked input")
        return list(self.survivors)

    def finish(self, responses: Mapping[str, Mapping[str, Mapping[str, str]]]) -> SecAggSum:
        """Rebuild the survivors' self-mask seeds and the dropped sites' mask keys; unmask and decode the sum."""
        if self._sum is None or self._layout is None:
            raise SecureAggregationError("unmask: no masked input arrived")
        survivors = self.survivors
        answered = sorted(r for r in responses if r in survivors)
        self.context.check_group(answered, "unmask")
        points = _points(list(self._adverts))
        dropped = tuple(s for s in self._shared if s not in survivors)
        total = self._sum.copy()
        t = self.context.threshold
        masks: list[tuple[bytes, bool]] = []
        for site in survivors:
            seed = _shamir.combine(self._collect(responses, answered, points, "b", site), t, KEY_BYTES)
            masks.append((derive(seed, self.context.label("self-mask", site)), True))
        for gone in dropped:
            s_sk = _shamir.combine(self._collect(responses, answered, points, "s", gone), t, KEY_BYTES)
            if public_of(s_sk) != self._adverts[gone].s_pk:
                raise SecureAggregationError(f"unmask: the shares of {gone}'s mask key do not rebuild its key")
            for site in survivors:
                seed = agree(s_sk, self._adverts[site].s_pk, self.context.label("pair-mask", *_pair(site, gone)))
                masks.append((seed, site < gone))
        apply_masks(total, masks)
        ring = self.context.ring
        n_total = sum(a.num_examples for a in self._adverts.values())
        weight = sum(self._adverts[s].num_examples for s in survivors) / n_total
        decoded = self._layout.split(ring.decode(total))
        return SecAggSum(
            total=decoded,
            weight=weight,
            sites=survivors,
            recovered=dropped,
            num_examples={s: self._adverts[s].num_examples for s in survivors},
        )

    def _collect(
        self,
        responses: Mapping[str, Mapping[str, Mapping[str, str]]],
        answered: Sequence[str],
        points: Mapping[str, int],
        kind: str,
        owner: str,
    ) -> dict[int, bytes]:
        shares: dict[int, bytes] = {}
        for responder in answered:
            part = responses[responder].get(kind)
            value = part.get(owner) if isinstance(part, Mapping) else None
            if isinstance(value, str):
                try:
                    shares[points[responder]] = bytes.fromhex(value)
                except ValueError as exc:
                    raise SecureAggregationError(f"unmask: {responder} sent a malformed share") from exc
        if len(shares) < self.context.threshold:
            raise SecureAggregationError(
                f"unmask: {len(shares)} shares of {owner}'s {'self mask' if kind == 'b' else 'mask key'}, "
                f"fewer than the threshold of {self.context.threshold}"
            )
        return shares
