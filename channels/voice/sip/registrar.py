"""A sans-IO SIP registrar for agents' softphones (RFC 3261 §10.3) with Digest authentication.

One address-of-record per agent user name (the user part of the To URI). Each binding keeps the Contact URI *and*
the source address and transport the REGISTER came from: softphones behind NAT (or baresip, which advertises its
eth0 address) are reached by sending to that source, like RFC 5626 "flow" routing without the extension.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .digest import DigestChallenger
from .errors import SipParseError
from .headers import NameAddr, SipUri, get_param, is_digits
from .message import SipRequest, SipResponse, make_response
from .transaction import Address

DEFAULT_EXPIRES = 3600


@dataclass(frozen=True)
class Binding:
    """Where an agent's softphone can be reached.

    Attributes:
        user: the agent's SIP user name (AOR user part).
        aor: the address-of-record URI (the REGISTER's To URI).
        contact: the Contact URI the softphone registered (used as the Request-URI of our INVITE).
        source: the address the REGISTER came from (where we send requests).
        transport: ``"UDP"`` or ``"TCP"`` (the REGISTER's transport).
        expires_at: absolute expiry on the registrar's clock.
        call_id: the REGISTER's Call-ID (RFC 3261 §10.3 ordering).
        cseq: the REGISTER's CSeq number.
    """

    user: str
    aor: str
    contact: str
    source: Address
    transport: str
    expires_at: float
    call_id: str
    cseq: int

    def expires_in(self, now: float) -> int:
        """Whole seconds left (never negative)."""
        return max(0, int(self.expires_at - now))


@dataclass(frozen=True)
class AgentRegistered:
    """An agent's softphone registered a new binding (refreshes of an existing binding emit nothing)."""

    user: str
    binding: Binding


@dataclass(frozen=True)
class AgentUnregistered:
    """An agent has no binding left (removed with Expires 0, ``*``, or expired)."""

    user: str


RegistrationChange = AgentRegistered | AgentUnregistered


class Registrar:
    """Processes REGISTER requests; keeps bindings in memory.

    Args:
        realm: the Digest realm.
        challenger: issues and verifies nonces.
        passwords: agent user name → SIP password, ``None`` for unknown users.
        min_expires: shorter non-zero intervals get ``423 Interval Too Brief``.
        max_expires: longer intervals are shortened to this.
        ha1_lookup: ``(user, algorithm) → HA1`` hex; when given it is used instead of ``passwords`` (for stores
            that keep only ``H(user:realm:secret)``).
    """

    def __init__(
        self,
        realm: str,
        challenger: DigestChallenger,
        passwords: Callable[[str], str | None],
        *,
        min_expires: int = 60,
        max_expires: int = 3600,
        ha1_lookup: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.realm, self.challenger, self.passwords, self.ha1_lookup = realm, challenger, passwords, ha1_lookup
        self.min_expires, self.max_expires = min_expires, max_expires
        self._bindings: dict[str, dict[str, Binding]] = {}
        self.auth_failures = 0

    def handle(
        self, request: SipRequest, source: Address, now: float, *, transport: str = "UDP"
    ) -> tuple[SipResponse, RegistrationChange | None]:
        """Process one REGISTER (not a retransmission: the transaction layer absorbs those).

        Returns:
            The final response, and the change in the agent's registration state, if any.
        """
        try:
            to_uri = SipUri.parse(request.to.uri)
        except SipParseError:
            return self._reply(request, 404, "Not Found (bad To URI)"), None
        user = to_uri.user
        if not user:
            return self._reply(request, 404, "Not Found (no user in To)"), None
        credentials = request.headers.get("Authorization")
        if credentials is None:
            return self._challenge(request, stale=False), None
        result = self.challenger.check(request.method, credentials, self.passwords, ha1_lookup=self.ha1_lookup)
        if result.user is None:
            self.auth_failures += 1
            return self._challenge(request, stale=result.stale), None
        if result.user != user:
            return self._reply(request, 403, "Forbidden (user does not own this address)"), None
        return self._update(request, user, source, now, transport.upper())

    def _update(
        self, request: SipRequest, user: str, source: Address, now: float, transport: str
    ) -> tuple[SipResponse, RegistrationChange | None]:
        contacts = request.contacts
        default = request.headers.get("Expires")
        if default is not None and not (is_digits(default) and len(default) <= 10):
            return self._reply(request, 400, "Bad Request (bad Expires)"), None
        if any(c.uri == "*" for c in contacts):
            if len(contacts) != 1 or default is None or int(default) != 0:
                return self._reply(request, 400, "Bad Request (Contact * needs Expires 0)"), None
            had = bool(self._bindings.pop(user, None))
            return self._ok(request, user, now), AgentUnregistered(user) if had else None
        planned: list[tuple[str, int]] = []
        for contact in contacts:
            try:
                parsed = SipUri.parse(contact.uri)
            except SipParseError:
                return self._reply(request, 400, "Bad Request (bad Contact URI)"), None
            if not parsed.host:
                return self._reply(request, 400, "Bad Request (bad Contact URI)"), None
            raw = get_param(contact.params, "expires")
            raw = raw if raw is not None else default
            if raw is not None and not (is_digits(raw) and len(raw) <= 10):
                return self._reply(request, 400, "Bad Request (bad expires parameter)"), None
            expires = DEFAULT_EXPIRES if raw is None else int(raw)
            if 0 < expires < self.min_expires:
                return self._reply(request, 423, extra=[("Min-Expires", str(self.min_expires))]), None
            planned.append((contact.uri, min(expires, self.max_expires)))
        current = self._bindings.get(user, {})
        for uri, _ in planned:
            old = current.get(uri)
            if old is not None and old.call_id == request.call_id and request.cseq.number <= old.cseq:
                return self._reply(request, 500, "Server Internal Error (out-of-order REGISTER)"), None
        was_bound = bool(current)
        change: RegistrationChange | None = None
        for uri, expires in planned:
            if expires == 0:
                current.pop(uri, None)
                continue
            binding = Binding(
                user, request.to.uri, uri, source, transport, now + expires, request.call_id, request.cseq.number
            )
            old = current.get(uri)
            if old is None or (old.source, old.transport) != (source, transport):
                change = AgentRegistered(user, binding)
            current[uri] = binding
        if current:
            self._bindings[user] = current
        else:
            self._bindings.pop(user, None)
            if was_bound:
                change = AgentUnregistered(user)
        return self._ok(request, user, now), change

    def lookup(self, user: str, now: float) -> Binding | None:
        """The most recently refreshed live binding of ``user``."""
        live = [b for b in self._bindings.get(user, {}).values() if b.expires_at > now]
        return max(live, key=lambda b: b.expires_at) if live else None

    def bindings(self, now: float) -> list[Binding]:
        """Every live binding."""
        return [b for per_user in self._bindings.values() for b in per_user.values() if b.expires_at > now]

    def expire(self, now: float) -> list[AgentUnregistered]:
        """Drop expired bindings; one event per agent left without any."""
        gone: list[AgentUnregistered] = []
        for user, per_user in list(self._bindings.items()):
            for uri, binding in list(per_user.items()):
                if binding.expires_at <= now:
                    del per_user[uri]
            if not per_user:
                del self._bindings[user]
                gone.append(AgentUnregistered(user))
        return gone

    def next_expiry(self) -> float | None:
        """When the next binding expires, or ``None``."""
        times = [b.expires_at for per_user in self._bindings.values() for b in per_user.values()]
        return min(times) if times else None

    def _ok(self, request: SipRequest, user: str, now: float) -> SipResponse:
        extra = [
            ("Contact", f"{NameAddr(b.contact)};expires={b.expires_in(now)}")
            for b in self._bindings.get(user, {}).values()
        ]
        return self._reply(request, 200, extra=extra)

    def _challenge(self, request: SipRequest, *, stale: bool) -> SipResponse:
        return self._reply(request, 401, extra=[("WWW-Authenticate", self.challenger.challenge(stale=stale))])

    def _reply(
        self, request: SipRequest, status: int, reason: str | None = None, extra: list[tuple[str, str]] | None = None
    ) -> SipResponse:
        return make_response(request, status, reason, to_tag=secrets.token_hex(5), extra=extra or [])
