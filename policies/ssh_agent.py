"""A small SSH agent client: list the agent's keys and ask it to sign (``draft-miller-ssh-agent``), so an approver
signs with a key that never lives on the site host (their agent, forwarded over the SSH session).

Only two requests are used: ``SSH2_AGENTC_REQUEST_IDENTITIES`` and ``SSH2_AGENTC_SIGN_REQUEST``.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from policies.approver_keys import (
    ApprovalStatement,
    ApproverKey,
    SignedApproval,
    SshsigError,
    armor,
    signed_data,
)
from policies.registry.rules import ApprovalRules

_REQUEST_IDENTITIES = 11
_IDENTITIES_ANSWER = 12
_SIGN_REQUEST = 13
_SIGN_RESPONSE = 14
_RSA_SHA2_512 = 4
_MAX_REPLY = 256 * 1024
TIMEOUT_S = 60.0
"""How long to wait for the agent (a FIDO2 key waits for a touch)."""


class AgentError(RuntimeError):
    """No agent, or the agent refused or answered nonsense (the message says which)."""


def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


class SshAgent:
    """The agent at ``socket_path`` (the approver's ``SSH_AUTH_SOCK``)."""

    def __init__(self, socket_path: Path, *, timeout_s: float = TIMEOUT_S) -> None:
        self._path = socket_path
        self._timeout = timeout_s

    def _call(self, kind: int, payload: bytes) -> tuple[int, bytes]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self._timeout)
                sock.connect(str(self._path))
                request = bytes([kind]) + payload
                sock.sendall(struct.pack(">I", len(request)) + request)
                length = int(struct.unpack(">I", _recv(sock, 4))[0])
                if not 1 <= length <= _MAX_REPLY:
                    raise AgentError("the SSH agent sent a malformed reply")
                reply = _recv(sock, length)
        except OSError as exc:
            raise AgentError(f"cannot reach the SSH agent ({type(exc).__name__})") from None
        return reply[0], reply[1:]

    def identities(self) -> list[ApproverKey]:
        """The keys the agent holds (with their comments); unknown key types are skipped."""
        kind, body = self._call(_REQUEST_IDENTITIES, b"")
        if kind != _IDENTITIES_ANSWER:
            raise AgentError("the SSH agent refused to list its keys")
        keys: list[ApproverKey] = []
        try:
            count, at = struct.unpack(">I", body[:4])[0], 4
            for _ in range(count):
                blob, at = _take(body, at)
                comment, at = _take(body, at)
                try:
                    key = ApproverKey.from_blob(blob)
                except SshsigError:
                    continue
                keys.append(ApproverKey(key.key_type, blob, comment.decode("utf-8", "replace")))
        except (struct.error, IndexError, ValueError):
            raise AgentError("the SSH agent sent a malformed key list") from None
        return keys

    def sign(self, key: ApproverKey, message: bytes) -> str:
        """An armored SSHSIG by ``key`` over ``message`` (namespace ``fednode-approval``)."""
        flags = _RSA_SHA2_512 if key.key_type == "ssh-rsa" else 0
        payload = _string(key.blob) + _string(signed_data(message)) + struct.pack(">I", flags)
        kind, body = self._call(_SIGN_REQUEST, payload)
        if kind != _SIGN_RESPONSE:
            raise AgentError("the SSH agent refused to sign (key not loaded, or confirmation declined)")
        try:
            signature, _ = _take(body, 0)
        except (struct.error, ValueError):
            raise AgentError("the SSH agent sent a malformed signature") from None
        return armor(key.blob, signature)


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise AgentError("the SSH agent closed the connection")
        data += chunk
    return data


def _take(body: bytes, at: int) -> tuple[bytes, int]:
    (length,) = struct.unpack(">I", body[at : at + 4])
    end = at + 4 + length
    if end > len(body):
        raise ValueError("truncated")
    return body[at + 4 : end], end


def sign_with_agent(
    agent: SshAgent, rules: ApprovalRules, statement: ApprovalStatement, claimed: str | None
) -> SignedApproval:
    """Sign ``statement`` with the one key the agent holds that the policy enrols (``claimed``'s, if named)."""
    held = {k.blob for k in agent.identities()}
    if claimed is not None:
        key = rules.key_of(claimed)
        if key is None:
            raise AgentError(f"{claimed!r} has no key enrolled in the site policy")
        if key.blob not in held:
            raise AgentError(f"the SSH agent does not hold {claimed!r}'s enrolled key {key.fingerprint}")
    else:
        mine = [(name, key) for name, key in rules.keys if key.blob in held]
        if not mine:
            raise AgentError("the SSH agent holds none of the keys enrolled in the site policy")
        if len(mine) > 1:
            names = ", ".join(name for name, _ in mine)
            raise AgentError(f"the SSH agent holds keys of several approvers ({names}); name yours with --approver")
        key = mine[0][1]
    message = statement.to_bytes()
    return SignedApproval(message, agent.sign(key, message))
