"""Who is calling: tokens and API keys, and a clear 401 for everything else."""

import datetime
import hashlib
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import TEST_SECRET, token
from test_http_exposure import served

ME = "{ me { id name roles } }"
SERVICE_KEY = "bi-key-0123456789abcdef"


def call(gateway, headers):
    return gateway.http.post(f"{gateway.url}/graphql", json={"query": ME}, headers=headers)


def assert_401(response, mentions):
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert mentions in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_token_makes_the_principal(gateway):
    body = call(gateway, {"Authorization": f"Bearer {token('finance', user='F-7')}"}).json()
    assert body["data"]["me"] == {"id": "F-7", "name": None, "roles": ["finance"]}


def test_no_credentials(gateway):
    gateway_headers = {"Authorization": ""}
    assert_401(call(gateway, gateway_headers), "No credentials")


def test_an_expired_token(gateway):
    expired = jwt.encode({"sub": "x", "roles": ["finance"], "exp": int(time.time()) - 3600}, TEST_SECRET, algorithm="HS256")
    assert_401(call(gateway, {"Authorization": f"Bearer {expired}"}), "expired")


def test_a_token_signed_with_another_secret(gateway):
    forged = jwt.encode({"sub": "x", "roles": ["admin"], "exp": int(time.time()) + 60}, "another-secret-of-enough-length-000000", algorithm="HS256")
    assert_401(call(gateway, {"Authorization": f"Bearer {forged}"}), "signature")


def test_a_token_not_valid_yet(gateway):
    later = jwt.encode({"sub": "x", "exp": int(time.time()) + 7200, "nbf": int(time.time()) + 3600}, TEST_SECRET, algorithm="HS256")
    assert_401(call(gateway, {"Authorization": f"Bearer {later}"}), "not valid yet")


def test_an_unsigned_token_is_refused(gateway):
    unsigned = jwt.encode({"sub": "x", "roles": ["admin"], "exp": int(time.time()) + 60}, None, algorithm="none")
    assert_401(call(gateway, {"Authorization": f"Bearer {unsigned}"}), "algorithm")


def test_a_malformed_authorization_header(gateway):
    assert_401(call(gateway, {"Authorization": "Basic dXNlcjpwdw=="}), "Bearer")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """Auth settings with a JWKS file (kid k1) and a service account's API key; and the private key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    folder = tmp_path_factory.mktemp("keys")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (folder / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    (folder / "public.pem").write_bytes(public_pem)
    api_key = {"sha256": hashlib.sha256(SERVICE_KEY.encode()).hexdigest(), "principal": "svc-bi", "roles": ["bi_reader"]}
    return {"jwks_file": str(folder / "jwks.json"), "api_keys": [api_key]}, private


async def keyed_call(settings, headers, payload=None):
    """One request to the gateway in process (no backend is needed to say who is calling)."""
    async with served(auth=settings) as client:
        return await client.post("/graphql", json=payload or {"query": ME}, headers=headers)


async def test_an_rs256_token_verified_by_jwks(keyed):
    settings, private = keyed
    signed = jwt.encode({"sub": "R1", "roles": ["sales_rep"], "exp": int(time.time()) + 60}, private, algorithm="RS256", headers={"kid": "k1"})
    assert (await keyed_call(settings, {"Authorization": f"Bearer {signed}"})).json()["data"]["me"]["id"] == "R1"
    unknown_kid = jwt.encode({"sub": "R1", "exp": int(time.time()) + 60}, private, algorithm="RS256", headers={"kid": "k9"})
    assert_401(await keyed_call(settings, {"Authorization": f"Bearer {unknown_kid}"}), "key id")


async def test_an_api_key_maps_to_its_service_account(keyed):
    settings, _ = keyed
    # bi_reader may run only trusted documents (persisted/), so it asks with the WhoAmI one.
    who_am_i = (Path(__file__).resolve().parent.parent / "persisted" / "who_am_i.graphql").read_text()
    response = await keyed_call(
        settings, {"X-API-Key": SERVICE_KEY}, {"documentId": "sha256:" + hashlib.sha256(who_am_i.encode()).hexdigest()}
    )
    assert response.json()["data"]["me"] == {
        "id": "svc-bi", "name": None, "team": None, "customersSeen": "all", "roles": ["bi_reader"]
    }


async def test_an_unknown_api_key(keyed):
    settings, _ = keyed
    assert_401(await keyed_call(settings, {"X-API-Key": "guess"}), "Unknown API key")


# --- a verified token is remembered until it expires, and only then ----------------------


class Clock:
    """Wall time that moves only when the test says so, for the gateway and for PyJWT alike."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()

    class PyJwtNow(datetime.datetime):  # PyJWT reads `datetime.now(tz=...)` when it checks exp and nbf
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(clock.now, tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", PyJwtNow)
    return clock


@pytest.fixture
def verifications(monkeypatch):
    """Every token PyJWT is asked to verify (signature and claims), in order."""
    seen = []
    decode = jwt.decode

    def counting(token, *args, **kwargs):
        seen.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def authenticator(clock, **settings):
    from server.auth import Authenticator
    from server.settings import AuthSettings

    return Authenticator(AuthSettings(jwt_secret=TEST_SECRET, **settings), clock=clock)


def bearer_of(signed: str) -> dict[str, str]:
    return {"authorization": f"Bearer {signed}"}


def signed(clock, ttl=60, secret=TEST_SECRET, **claims):
    return jwt.encode({"sub": "F-7", "roles": ["finance"], "exp": int(clock.now) + ttl, **claims}, secret, algorithm="HS256")


def test_a_verified_token_is_not_verified_again_and_is_kept_by_its_digest_only(clock, verifications):
    auth = authenticator(clock)
    token_ = signed(clock)
    first = auth.authenticate(bearer_of(token_))
    second = auth.authenticate(bearer_of(token_))
    assert first == second and first.id == "F-7" and first.roles == ("finance",)
    assert verifications == [token_]
    assert list(auth._verified) == [hashlib.sha256(token_.encode()).digest()]  # never the token itself


def test_at_its_exp_a_remembered_token_is_verified_again_and_refused_once_expired(clock, verifications):
    from server.errors import Unauthenticated

    auth = authenticator(clock, leeway_seconds=30)
    token_ = signed(clock, ttl=60)
    auth.authenticate(bearer_of(token_))
    clock.now += 59
    auth.authenticate(bearer_of(token_))
    assert len(verifications) == 1
    clock.now += 1  # at exp: the leeway lets verification accept it, but the memory ends here
    auth.authenticate(bearer_of(token_))
    assert len(verifications) == 2
    clock.now += 30  # past exp and the leeway
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="expired"):
            auth.authenticate(bearer_of(token_))
    assert len(verifications) == 4


def test_a_remembered_token_is_not_taken_before_its_nbf(clock, verifications):
    from server.errors import Unauthenticated

    auth = authenticator(clock, leeway_seconds=30)
    token_ = signed(clock, nbf=int(clock.now) + 10)  # within the leeway: accepted now
    auth.authenticate(bearer_of(token_))
    clock.now -= 25  # the wall clock steps back: now before nbf - leeway
    with pytest.raises(Unauthenticated, match="not valid yet"):
        auth.authenticate(bearer_of(token_))
    assert len(verifications) == 2


def test_a_token_that_failed_is_never_remembered(clock, verifications):
    from server.errors import Unauthenticated

    auth = authenticator(clock)
    good = signed(clock)
    auth.authenticate(bearer_of(good))
    forged = signed(clock, secret="not-the-secret-of-this-gateway-0123456789")  # the same claims, another key
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="signature"):
            auth.authenticate(bearer_of(forged))
    assert verifications == [good, forged, forged] and len(auth._verified) == 1


def test_the_remembered_tokens_are_bounded(clock, verifications):
    auth = authenticator(clock, token_cache_size=2)
    tokens = [signed(clock, sub=f"U{n}") for n in range(3)]
    for token_ in tokens:
        auth.authenticate(bearer_of(token_))
    assert len(auth._verified) == 2
    auth.authenticate(bearer_of(tokens[2]))  # remembered
    auth.authenticate(bearer_of(tokens[0]))  # the least recently used, gone: verified again
    assert verifications == [*tokens, tokens[0]]


def test_no_memory_when_switched_off(clock, verifications):
    auth = authenticator(clock, token_cache_size=0)
    token_ = signed(clock)
    auth.authenticate(bearer_of(token_))
    auth.authenticate(bearer_of(token_))
    assert verifications == [token_, token_]


async def test_the_gateway_verifies_a_token_once_for_many_requests(verifications):
    headers = {"Authorization": f"Bearer {token('finance', user='F-7')}"}
    async with served() as client:
        answers = [(await client.post("/graphql", json={"query": ME}, headers=headers)).json() for _ in range(3)]
    assert all(answer["data"]["me"]["id"] == "F-7" for answer in answers)
    assert len(verifications) == 1
