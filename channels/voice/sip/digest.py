"""HTTP Digest authentication for SIP (RFC 7616, RFC 2617, RFC 3261 §22), sans-IO.

Server side: :class:`DigestChallenger` issues stateless nonces (a timestamp and random bytes signed with an HMAC of
a server secret, so any hub instance sharing the secret can check them) and verifies ``Authorization`` headers with
a constant-time comparison and a per-nonce nonce-count replay window. Client side: :func:`authorization` answers a
``WWW-Authenticate``/``Proxy-Authenticate`` challenge (for a trunk that challenges our outgoing INVITE).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .headers import is_token

ALGORITHMS: dict[str, Callable[[bytes], hashlib._Hash]] = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_NONCE_RAW = 8 + 8 + 16  # timestamp, random, truncated HMAC
_MAX_HEADER = 4096


class DigestError(ValueError):
    """A challenge or credentials header cannot be parsed or uses something we do not support."""


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``Digest a=b, c="d"`` into the scheme and its parameters (names lower-cased, quotes removed).

    Raises:
        DigestError: malformed syntax, a duplicate parameter or an oversized header.
    """
    if len(value) > _MAX_HEADER:
        raise DigestError("header too long")
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if not is_token(scheme):
        raise DigestError("bad scheme")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = rest.find("=", i)
        if eq < 0:
            raise DigestError("parameter without '='")
        name = rest[i:eq].strip().lower()
        if not is_token(name):
            raise DigestError("bad parameter name")
        i = eq + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            if i >= n:
                raise DigestError("unterminated quoted string")
            i += 1
            val = "".join(chars)
        else:
            start = i
            while i < n and rest[i] not in ", \t":
                i += 1
            val = rest[start:i]
            if not val:
                raise DigestError(f"empty value for {name}")
        if name in params:
            raise DigestError(f"duplicate parameter {name}")
        params[name] = val
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] != ",":
            raise DigestError("junk after parameter")
    return scheme, params


def _h(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode()).hexdigest()


def digest_response(
    algorithm: str,
    *,
    user: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str = "",
    cnonce: str = "",
    ha1: str | None = None,
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 (qop ``auth``, or RFC 2069 style without qop).

    ``ha1`` (``H(user:realm:password)``, hex) replaces the password when only the hash is stored.
    """
    ha1 = ha1 if ha1 is not None else _h(algorithm, f"{user}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(
    challenge: str,
    method: str,
    uri: str,
    user: str,
    password: str,
    *,
    cnonce: str | None = None,
    nc: int = 1,
) -> str:
    """Answer a Digest challenge (client side).

    Args:
        challenge: the ``WWW-Authenticate`` or ``Proxy-Authenticate`` value.
        method: the request method being authorised.
        uri: the Request-URI.
        user: user name.
        password: the shared secret.
        cnonce: client nonce (random when omitted; injectable for tests).
        nc: nonce count for this nonce.

    Returns:
        The ``Authorization`` (or ``Proxy-Authorization``) header value.

    Raises:
        DigestError: the challenge is not Digest, is malformed or uses an unsupported algorithm or qop.
    """
    scheme, params = parse_auth_params(challenge)
    if scheme.lower() != "digest":
        raise DigestError(f"unsupported scheme {scheme}")
    realm, nonce = params.get("realm"), params.get("nonce")
    if realm is None or nonce is None:
        raise DigestError("challenge without realm or nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS:
        raise DigestError(f"unsupported algorithm {algorithm}")
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise DigestError("only qop=auth is supported")
    qop = "auth" if qops else None
    cnonce = cnonce if cnonce is not None else secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    response = digest_response(
        algorithm, user=user, realm=realm, password=password, method=method, uri=uri, nonce=nonce, qop=qop,
        nc=nc_text, cnonce=cnonce,
    )  # fmt: skip
    parts = [
        f"username={_quote(user)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={algorithm}",
    ]
    if "opaque" in params:
        parts.append(f"opaque={_quote(params['opaque'])}")
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={_quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


@dataclass(frozen=True)
class DigestResult:
    """The outcome of :meth:`DigestChallenger.check`.

    Attributes:
        user: the authenticated user name, or ``None``.
        stale: the credentials were right but the nonce expired: re-challenge with ``stale=true`` (RFC 7616 §3.3).
        reason: why authentication failed (for logs), empty on success.
    """

    user: str | None
    stale: bool = False
    reason: str = ""


class DigestChallenger:
    """Server side of Digest authentication with stateless HMAC-signed nonces.

    Args:
        realm: the protection realm (shown to softphones).
        secret: HMAC key for nonces; share it between hub instances that serve the same registrar.
        clock: wall or monotonic clock in seconds (injected; the nonce embeds its issue time).
        algorithm: ``"MD5"`` (what most softphones, baresip included, implement) or ``"SHA-256"``.
        nonce_ttl: seconds a nonce stays valid; older ones get a ``stale=true`` re-challenge.
        replay_window: how many nonce counts below the highest seen may still arrive (reordered UDP).
        max_tracked: at most this many nonces' counters are remembered (oldest forgotten first).
    """

    def __init__(
        self,
        realm: str,
        *,
        secret: bytes,
        clock: Callable[[], float],
        algorithm: str = "MD5",
        nonce_ttl: float = 300.0,
        replay_window: int = 32,
        max_tracked: int = 10000,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported algorithm {algorithm}")
        if not secret:
            raise ValueError("secret must not be empty")
        self.realm, self.algorithm, self.nonce_ttl = realm, algorithm, nonce_ttl
        self._secret, self._clock = secret, clock
        self._window, self._max_tracked = replay_window, max_tracked
        self._counts: OrderedDict[str, tuple[int, frozenset[int]]] = OrderedDict()
        self.opaque = hashlib.sha256(b"opaque|" + secret).hexdigest()[:16]

    # -- nonces --------------------------------------------------------------------------------------------------

    def make_nonce(self) -> str:
        """A fresh signed nonce: ``base64url(time ‖ random ‖ HMAC-SHA256(secret, time ‖ random)[:16])``."""
        body = struct.pack(">d", self._clock()) + secrets.token_bytes(8)
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def nonce_age(self, nonce: str) -> float | None:
        """Seconds since ``nonce`` was issued, or ``None`` when it was not signed by us."""
        if len(nonce) != 43 or not nonce.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=")
        except ValueError:
            return None
        if len(raw) != _NONCE_RAW:
            return None
        body, mac = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, hmac.new(self._secret, body, hashlib.sha256).digest()[:16]):
            return None
        (issued,) = struct.unpack(">d", body[:8])
        age = self._clock() - issued
        return age if age == age else None  # NaN guard

    def challenge(self, stale: bool = False) -> str:
        """A ``WWW-Authenticate`` value with a fresh nonce (``stale=true`` after an expired nonce)."""
        parts = [
            f'Digest realm="{self.realm}"',
            f'nonce="{self.make_nonce()}"',
            f'opaque="{self.opaque}"',
            f"algorithm={self.algorithm}",
            'qop="auth"',
        ]
        if stale:
            parts.append("stale=true")
        return ", ".join(parts)

    # -- verification ----------------------------------------------------------------------------------------------

    def verify(
        self, method: str, authorization_header: str, password_lookup: Callable[[str], str | None]
    ) -> str | None:
        """The authenticated user name, or ``None`` (see :meth:`check` for the reason)."""
        return self.check(method, authorization_header, password_lookup).user

    def check(
        self,
        method: str,
        authorization_header: str,
        password_lookup: Callable[[str], str | None],
        *,
        request_uri: str | None = None,
        ha1_lookup: Callable[[str, str], str | None] | None = None,
    ) -> DigestResult:
        """Verify credentials.

        Args:
            method: the request method (part of HA2).
            authorization_header: the ``Authorization`` value.
            password_lookup: user name → clear-text password, ``None`` for an unknown user.
            request_uri: when given, the ``uri`` parameter must equal it (RFC 7616 §3.4.6).
            ha1_lookup: ``(user, algorithm) → HA1`` hex, used instead of ``password_lookup`` when the clear
                password is not stored (``H(user:realm:password)`` for this realm).

        Returns:
            A :class:`DigestResult`; ``stale`` is set when only the nonce's age was wrong.
        """
        try:
            scheme, p = parse_auth_params(authorization_header)
        except DigestError as exc:
            return DigestResult(None, reason=f"malformed: {exc}")
        if scheme.lower() != "digest":
            return DigestResult(None, reason="not digest")
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(k not in p for k in needed):
            return DigestResult(None, reason="missing parameter")
        if p["realm"] != self.realm:
            return DigestResult(None, reason="wrong realm")
        if p.get("algorithm", "MD5").upper() != self.algorithm:
            return DigestResult(None, reason="wrong algorithm")
        if request_uri is not None and p["uri"] != request_uri:
            return DigestResult(None, reason="uri mismatch")
        qop, nc, cnonce = p.get("qop"), p.get("nc", ""), p.get("cnonce", "")
        if qop != "auth" or len(nc) != 8 or not cnonce:
            return DigestResult(None, reason="qop=auth with nc and cnonce required")
        try:
            count = int(nc, 16)
        except ValueError:
            return DigestResult(None, reason="bad nc")
        age = self.nonce_age(p["nonce"])
        if age is None or age < -5.0:
            return DigestResult(None, reason="unknown nonce")
        if ha1_lookup is not None:
            password, ha1 = "", ha1_lookup(p["username"], self.algorithm)
            if ha1 is None:
                return DigestResult(None, reason="unknown user")
        else:
            found, ha1 = password_lookup(p["username"]), None
            if found is None:
                return DigestResult(None, reason="unknown user")
            password = found
        expected = digest_response(
            self.algorithm, user=p["username"], realm=self.realm, password=password, method=method, uri=p["uri"],
            nonce=p["nonce"], qop=qop, nc=nc, cnonce=cnonce, ha1=ha1,
        )  # fmt: skip
        if not hmac.compare_digest(expected.encode(), p["response"].lower().encode()):
            return DigestResult(None, reason="wrong response")
        if age > self.nonce_ttl:
            return DigestResult(None, stale=True, reason="stale nonce")
        if not self._accept_count(p["nonce"], count):
            return DigestResult(None, reason="replayed nonce count")
        return DigestResult(p["username"])

    def _accept_count(self, nonce: str, count: int) -> bool:
        highest, seen = self._counts.get(nonce, (0, frozenset()))
        if count <= 0 or count in seen or count <= highest - self._window:
            return False
        highest = max(highest, count)
        seen = frozenset(c for c in (*seen, count) if c > highest - self._window)
        self._counts[nonce] = (highest, seen)
        self._counts.move_to_end(nonce)
        while len(self._counts) > self._max_tracked:
            self._counts.popitem(last=False)
        return True
