"""Digest authentication: RFC 7616 §3.9.1 vectors, the stateless nonce, replay window, malformed headers."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.voice.sip.digest import (
    DigestChallenger,
    DigestError,
    authorization,
    digest_response,
    parse_auth_params,
)

# RFC 7616 §3.9.1: user "Mufasa", password "Circle of Life", GET /dir/index.html.
RFC_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
BASE = 'Digest username="8001", realm="rexian", nonce="n", uri="sip:h", response="r'
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}
PASSWORDS = {"8001": "s3cret", "8002": "other"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_example_vectors(algorithm: str) -> None:
    value = authorization(
        RFC_CHALLENGE.format(alg=algorithm), "GET", "/dir/index.html", "Mufasa", "Circle of Life", cnonce=RFC_CNONCE
    )
    scheme, params = parse_auth_params(value)
    assert scheme == "Digest"
    assert params["response"] == RFC_RESPONSES[algorithm]
    assert params["nc"] == "00000001" and params["qop"] == "auth" and params["cnonce"] == RFC_CNONCE
    assert params["opaque"] == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    assert params["algorithm"] == algorithm


def test_rfc2069_style_response_without_qop() -> None:
    value = authorization('Digest realm="r", nonce="n"', "REGISTER", "sip:x", "u", "p")
    _, params = parse_auth_params(value)
    assert "qop" not in params and "nc" not in params
    expected = digest_response(
        "MD5", user="u", realm="r", password="p", method="REGISTER", uri="sip:x", nonce="n", qop=None
    )
    assert params["response"] == expected


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_challenge_and_verify_round_trip(algorithm: str) -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock(), algorithm=algorithm)
    challenge = server.challenge()
    _, params = parse_auth_params(challenge)
    assert params["realm"] == "rexian" and params["qop"] == "auth" and params["algorithm"] == algorithm
    creds = authorization(challenge, "REGISTER", "sip:198.51.100.5", "8001", "s3cret")
    assert server.verify("REGISTER", creds, PASSWORDS.get) == "8001"


def test_wrong_password_unknown_user_wrong_method_fail() -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock())
    challenge = server.challenge()
    assert (
        server.verify("REGISTER", authorization(challenge, "REGISTER", "sip:h", "8001", "bad"), PASSWORDS.get) is None
    )
    assert server.verify("REGISTER", authorization(challenge, "REGISTER", "sip:h", "9999", "x"), PASSWORDS.get) is None
    assert (
        server.verify("INVITE", authorization(challenge, "REGISTER", "sip:h", "8001", "s3cret"), PASSWORDS.get) is None
    )


def test_nonce_from_another_secret_or_tampered_is_rejected() -> None:
    clock = Clock()
    ours = DigestChallenger("rexian", secret=b"a" * 32, clock=clock)
    theirs = DigestChallenger("rexian", secret=b"b" * 32, clock=clock)
    creds = authorization(theirs.challenge(), "REGISTER", "sip:h", "8001", "s3cret")
    assert ours.check("REGISTER", creds, PASSWORDS.get).reason == "unknown nonce"
    nonce = ours.make_nonce()
    tampered = ("A" if nonce[0] != "A" else "B") + nonce[1:]
    assert ours.nonce_age(tampered) is None and ours.nonce_age(nonce) == 0.0


def test_expired_nonce_with_right_password_is_stale() -> None:
    clock = Clock()
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=clock, nonce_ttl=300)
    creds = authorization(server.challenge(), "REGISTER", "sip:h", "8001", "s3cret")
    clock.now += 301
    result = server.check("REGISTER", creds, PASSWORDS.get)
    assert result.user is None and result.stale
    assert "stale=true" in server.challenge(stale=True)
    wrong = authorization(server.challenge(), "REGISTER", "sip:h", "8001", "bad")
    clock.now += 301
    assert not server.check("REGISTER", wrong, PASSWORDS.get).stale


def test_nonce_count_replay_window() -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock(), replay_window=4)
    challenge = server.challenge()

    def creds(nc: int) -> str:
        return authorization(challenge, "REGISTER", "sip:h", "8001", "s3cret", cnonce="c", nc=nc)

    assert server.verify("REGISTER", creds(1), PASSWORDS.get) == "8001"
    assert server.check("REGISTER", creds(1), PASSWORDS.get).reason == "replayed nonce count"
    assert server.verify("REGISTER", creds(5), PASSWORDS.get) == "8001"
    assert server.verify("REGISTER", creds(3), PASSWORDS.get) == "8001"  # reordered, inside the window
    assert server.verify("REGISTER", creds(3), PASSWORDS.get) is None
    assert server.verify("REGISTER", creds(1), PASSWORDS.get) is None  # below the window
    assert server.verify("REGISTER", creds(0), PASSWORDS.get) is None


def test_request_uri_must_match_when_given() -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock())
    creds = authorization(server.challenge(), "REGISTER", "sip:a", "8001", "s3cret")
    assert server.check("REGISTER", creds, PASSWORDS.get, request_uri="sip:b").reason == "uri mismatch"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic dXNlcjpwYXNz", "malformed: parameter without '='"),
        ('Basic realm="rexian"', "not digest"),
        ('Digest username="8001", realm="rexian"', "missing parameter"),
        ('Digest username="8001", realm="other", nonce="n", uri="sip:h", response="r"', "wrong realm"),
        (BASE + '"', "qop=auth with nc and cnonce required"),
        (BASE + '", algorithm=SHA-512', "wrong algorithm"),
        (BASE + '", qop=auth, nc=zzzzzzzz, cnonce="c"', "bad nc"),
        (BASE + '", qop=auth, nc=00000001, cnonce="c"', "unknown nonce"),
        ('Digest username="unterminated', "malformed: unterminated quoted string"),
        ('Digest a=1, a=2', "malformed: duplicate parameter a"),
        ("Digest " + "a" * 5000 + "=1", "malformed: header too long"),
    ],
)  # fmt: skip
def test_malformed_credentials_give_exact_reasons(header: str, reason: str) -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock())
    assert server.check("REGISTER", header, PASSWORDS.get).reason == reason


@pytest.mark.parametrize(
    "challenge",
    [
        'Basic realm="x"',
        'Digest nonce="n"',
        'Digest realm="r", nonce="n", algorithm=SHA-512',
        'Digest realm="r", nonce="n", qop="auth-int"',
    ],
)
def test_client_rejects_unsupported_challenges(challenge: str) -> None:
    with pytest.raises(DigestError):
        authorization(challenge, "INVITE", "sip:x", "u", "p")


def test_quoted_strings_with_escapes() -> None:
    assert parse_auth_params(r'Digest realm="a\"b", nonce="x,y"') == ("Digest", {"realm": 'a"b', "nonce": "x,y"})


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_check_never_raises(header: str) -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock())
    result = server.check("REGISTER", header, PASSWORDS.get)
    assert result.user is None


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_verify_with_stored_ha1_instead_of_the_password(algorithm: str) -> None:
    server = DigestChallenger("rexian", secret=b"k" * 32, clock=Clock(), algorithm=algorithm)
    hashes = {
        ("8001", "MD5"): hashlib.md5(b"8001:rexian:s3cret").hexdigest(),
        ("8001", "SHA-256"): hashlib.sha256(b"8001:rexian:s3cret").hexdigest(),
    }

    def lookup(user: str, alg: str) -> str | None:
        return hashes.get((user, alg))

    creds = authorization(server.challenge(), "REGISTER", "sip:h", "8001", "s3cret")
    assert server.check("REGISTER", creds, lambda _u: None, ha1_lookup=lookup).user == "8001"
    wrong = authorization(server.challenge(), "REGISTER", "sip:h", "8001", "bad")
    assert server.check("REGISTER", wrong, lambda _u: None, ha1_lookup=lookup).reason == "wrong response"
    unknown = authorization(server.challenge(), "REGISTER", "sip:h", "9999", "s3cret")
    assert server.check("REGISTER", unknown, lambda _u: None, ha1_lookup=lookup).reason == "unknown user"
