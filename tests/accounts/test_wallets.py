"""Verified wallets: TIP-191 signatures (TronWeb's signMessageV2, tronpy) recovered to their
address, one-time challenges, and the wallet settings page and API."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tronpy.keys import PrivateKey

from accounts import wallets
from accounts.models import User, VerifiedWallet, WalletChallenge
from accounts.services import issue_token
from tests.fixtures.processes import BASE_DIR

SIGN_SCRIPT = BASE_DIR / "tests" / "accounts" / "js" / "sign_message.mjs"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def tronweb_sign(key: PrivateKey, *messages: str) -> dict[str, Any]:
    """Signatures by the npm TronWeb's ``trx.signMessageV2`` (what TronLink runs), in node."""
    node = shutil.which("node")
    assert node, "Node.js is needed to run TronWeb"
    assert (BASE_DIR / "node_modules" / "tronweb").is_dir(), "TronWeb is missing: run make setup"
    done = subprocess.run(
        [node, str(SIGN_SCRIPT)],
        input=json.dumps({"private_key": key.hex(), "messages": list(messages)}),
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=60,  # a hang guard only
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    assert answer["ok"] is True, (answer, done.stderr)
    return answer


def tronpy_sign(key: PrivateKey, message: str) -> str:
    """tronpy's TIP-191 signature: hex, v in {0, 1}."""
    signature: str = key.sign_msg(message.encode()).hex()
    return signature


def address_of(key: PrivateKey) -> str:
    address: str = key.public_key.to_base58check_address()
    return address


# --- signer_of ---------------------------------------------------------------------------------


@pytest.mark.processes
def test_tronweb_signatures_are_recovered_to_the_signing_address() -> None:
    key = PrivateKey.random()
    messages = [
        "hello",
        "Pay invoice 5f0c…\nNonce: 42",
        "héllo ✓ ünïcode — emoji 🎶",  # the length TIP-191 hashes is in UTF-8 bytes
        "",
    ]

    signed = tronweb_sign(key, *messages)

    assert signed["address"] == address_of(key)
    for message, signature, by_tronweb in zip(
        messages, signed["signatures"], signed["verified"], strict=True
    ):
        assert signature.startswith("0x")
        assert int(signature[-2:], 16) in (27, 28)
        assert by_tronweb == address_of(key)  # TronWeb's own recovery agrees
        assert wallets.signer_of(message, signature) == address_of(key)
        assert wallets.signer_of(message, signature[2:]) == address_of(key)
        assert wallets.signer_of(message, "0X" + signature[2:].upper()) == address_of(key)


@pytest.mark.processes
def test_tronpy_signatures_are_recovered_with_either_form_of_v() -> None:
    key = PrivateKey.random()
    message = "a claim for 0123abcd"
    signature = tronpy_sign(key, message)
    v = int(signature[-2:], 16)
    assert v in (0, 1)

    assert wallets.signer_of(message, signature) == address_of(key)
    assert wallets.signer_of(message, signature[:-2] + f"{v + 27:02x}") == address_of(key)
    # tronpy's and TronWeb's signatures are the same bytes apart from v (RFC 6979, low s)
    assert tronweb_sign(key, message)["signatures"][0][2:-2] == signature[:-2]


@pytest.mark.processes
def test_a_tampered_message_does_not_recover_the_signer() -> None:
    key = PrivateKey.random()
    signature = tronweb_sign(key, "pay invoice A")["signatures"][0]

    # Recovery over another message yields some other key (or none): never the signer.
    for other in ("pay invoice B", "pay invoice A ", "Pay invoice A", "pay invoice"):
        assert wallets.signer_of(other, signature) != address_of(key)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-2], id="64 bytes"),
        pytest.param(lambda s: s + "00", id="66 bytes"),
        pytest.param(lambda s: s[:-1], id="odd length"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: "0x", id="prefix only"),
        pytest.param(lambda s: "zz" + s[2:], id="not hex"),
        pytest.param(lambda s: s[:64] + " " + s[65:], id="a space inside"),
        pytest.param(lambda s: s[:-2] + "02", id="v 2"),
        pytest.param(lambda s: s[:-2] + "1a", id="v 26"),
        pytest.param(lambda s: s[:-2] + "1d", id="v 29"),
        pytest.param(lambda s: s[:-2] + "25", id="v 37 (EIP-155 style)"),
        pytest.param(lambda s: s[:-2] + "ff", id="v 255"),
        pytest.param(lambda s: "00" * 32 + s[64:], id="r zero"),
        pytest.param(lambda s: s[:64] + "00" * 32 + s[128:], id="s zero"),
        pytest.param(lambda s: f"{SECP256K1_N:064x}" + s[64:], id="r is the order"),
        pytest.param(lambda s: "ff" * 32 + s[64:], id="r past the order"),
        pytest.param(lambda s: "0x0x" + s, id="double prefix"),
        pytest.param(lambda s: "٣" * 130, id="non-ascii digits"),
    ],
)
def test_malformed_signatures_give_none(mangle: Any) -> None:
    key = PrivateKey.random()
    signature = tronpy_sign(key, "message")

    assert wallets.signer_of("message", mangle(signature)) is None


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        (None, "00" * 65),
        ("message", None),
        (b"message", "00" * 65),
        ("message", b"\x00" * 65),
        ("message", 12345),
        ("\ud800 lone surrogate", "11" * 64 + "1b"),
        ("x" * 100_000, "11" * 64 + "1b"),
    ],
)
def test_hostile_inputs_give_none(message: Any, signature: Any) -> None:
    assert wallets.signer_of(message, signature) is None


# --- verify_wallet -----------------------------------------------------------------------------


@pytest.mark.processes
def test_a_wallet_is_verified_by_signing_the_accounts_challenge(fan: User) -> None:
    key = PrivateKey.random()
    challenge = wallets.wallet_challenge(fan)
    signature = tronweb_sign(key, challenge)["signatures"][0]

    wallet = wallets.verify_wallet(fan, address_of(key), signature)

    assert (wallet.user_id, wallet.address) == (fan.pk, address_of(key))
    assert wallets.verified_addresses(fan) == {address_of(key)}
    assert WalletChallenge.objects.filter(user=fan).count() == 0  # used up


def test_the_challenge_names_the_site_the_account_and_a_fresh_nonce(
    fan: User, settings: Any
) -> None:
    settings.SITE_URL = "https://creators.example:8443"

    first = wallets.wallet_challenge(fan)
    second = wallets.wallet_challenge(fan)

    assert "creators.example:8443" in first
    assert '"fan"' in first
    assert first != second
    assert first.splitlines()[2].startswith("Nonce: ")


def test_a_signature_cannot_be_replayed_on_the_same_account(fan: User) -> None:
    key = PrivateKey.random()
    signature = tronpy_sign(key, wallets.wallet_challenge(fan))
    wallets.verify_wallet(fan, address_of(key), signature)
    wallets.remove_wallet(fan, address_of(key))

    with pytest.raises(wallets.ChallengeUnknown):
        wallets.verify_wallet(fan, address_of(key), signature)
    wallets.wallet_challenge(fan)  # a new, different challenge
    with pytest.raises(wallets.WrongSigner):
        wallets.verify_wallet(fan, address_of(key), signature)
    assert wallets.verified_addresses(fan) == set()


def test_a_signature_for_one_account_is_refused_for_another(fan: User, stranger: User) -> None:
    key = PrivateKey.random()
    fans_signature = tronpy_sign(key, wallets.wallet_challenge(fan))

    # the stranger, without a challenge, then with one of their own
    with pytest.raises(wallets.ChallengeUnknown):
        wallets.verify_wallet(stranger, address_of(key), fans_signature)
    wallets.wallet_challenge(stranger)
    with pytest.raises(wallets.WrongSigner):
        wallets.verify_wallet(stranger, address_of(key), fans_signature)

    assert wallets.verified_addresses(stranger) == set()
    # and the fan's own challenge is still there for the fan
    wallets.verify_wallet(fan, address_of(key), fans_signature)
    assert wallets.verified_addresses(fan) == {address_of(key)}


def test_an_expired_challenge_is_refused(fan: User) -> None:
    key = PrivateKey.random()
    signature = tronpy_sign(key, wallets.wallet_challenge(fan))
    WalletChallenge.objects.filter(user=fan).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    with pytest.raises(wallets.ChallengeUnknown, match="ask for a new one"):
        wallets.verify_wallet(fan, address_of(key), signature)
    assert not VerifiedWallet.objects.exists()


def test_without_any_challenge_verification_is_refused(fan: User) -> None:
    key = PrivateKey.random()

    with pytest.raises(wallets.ChallengeUnknown):
        wallets.verify_wallet(fan, address_of(key), tronpy_sign(key, "anything"))


def test_a_signature_by_another_key_is_refused(fan: User) -> None:
    mine, theirs = PrivateKey.random(), PrivateKey.random()
    signature = tronpy_sign(theirs, wallets.wallet_challenge(fan))

    with pytest.raises(wallets.WrongSigner) as refused:
        wallets.verify_wallet(fan, address_of(mine), signature)

    assert address_of(mine) in refused.value.message
    assert refused.value.code == "wrong_signer"
    assert WalletChallenge.objects.filter(user=fan).count() == 1  # still open for the right key


@pytest.mark.parametrize(
    "address",
    [
        "",
        "T123",
        "0x" + "ab" * 20,  # an Ethereum address
        "41" + "ab" * 20,  # TRON hex form: the base58 form is asked for
        "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp5",  # checksum off by one character
        None,
    ],
)
def test_what_is_not_a_tron_address_is_refused(fan: User, address: Any) -> None:
    key = PrivateKey.random()
    signature = tronpy_sign(key, wallets.wallet_challenge(fan))

    with pytest.raises(wallets.NotATronAddress):
        wallets.verify_wallet(fan, address, signature)


def test_any_open_challenge_of_the_account_works_and_at_most_five_stay_open(fan: User) -> None:
    key = PrivateKey.random()
    challenges = [wallets.wallet_challenge(fan) for _ in range(7)]

    assert WalletChallenge.objects.filter(user=fan).count() == wallets.MAX_OPEN_CHALLENGES
    with pytest.raises(wallets.WrongSigner):  # the oldest lapsed
        wallets.verify_wallet(fan, address_of(key), tronpy_sign(key, challenges[0]))
    wallets.verify_wallet(fan, address_of(key), tronpy_sign(key, challenges[3]))
    assert WalletChallenge.objects.filter(user=fan).count() == wallets.MAX_OPEN_CHALLENGES - 1


def test_verifying_again_keeps_one_row_and_removing_is_per_account(
    fan: User, stranger: User
) -> None:
    key = PrivateKey.random()
    for user in (fan, fan, stranger):  # one person may hold two accounts
        wallets.verify_wallet(
            user, address_of(key), tronpy_sign(key, wallets.wallet_challenge(user))
        )

    assert VerifiedWallet.objects.filter(user=fan).count() == 1
    assert wallets.remove_wallet(stranger, address_of(key)) is True
    assert wallets.remove_wallet(stranger, address_of(key)) is False
    assert wallets.verified_addresses(fan) == {address_of(key)}
    assert wallets.verified_addresses(stranger) == set()


# --- the page ----------------------------------------------------------------------------------


def test_the_wallets_page_lists_and_removes_the_fans_wallets(fan: User, stranger: User) -> None:
    mine, theirs = PrivateKey.random(), PrivateKey.random()
    wallets.verify_wallet(fan, address_of(mine), tronpy_sign(mine, wallets.wallet_challenge(fan)))
    wallets.verify_wallet(
        stranger, address_of(theirs), tronpy_sign(theirs, wallets.wallet_challenge(stranger))
    )
    client = Client()
    client.force_login(fan)

    page = client.get("/settings/wallets/")

    assert page.status_code == 200
    html = page.content.decode()
    assert address_of(mine) in html
    assert address_of(theirs) not in html
    assert "Verify with TronLink" in html
    assert 'href="/settings/wallets/"' in html  # in the navigation
    assert "without asking your wallet for a signature each time" in html

    # removing someone else's wallet changes nothing; removing one's own does
    client.post("/settings/wallets/remove/", {"address": address_of(theirs)})
    assert wallets.verified_addresses(stranger) == {address_of(theirs)}
    answer = client.post("/settings/wallets/remove/", {"address": address_of(mine)}, follow=True)
    assert f"Wallet {address_of(mine)} removed." in answer.content.decode()
    assert wallets.verified_addresses(fan) == set()


def test_the_wallets_page_needs_a_log_in(db: None) -> None:
    answer = Client().get("/settings/wallets/")

    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/")


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.processes
def test_a_script_verifies_lists_and_removes_a_wallet_through_the_api(fan: User) -> None:
    key = PrivateKey.random()
    client = Client(headers={"Authorization": f"Bearer {issue_token(fan, 'script').secret}"})

    challenge = client.post("/api/v1/wallets/challenge")
    assert challenge.status_code == 201
    assert challenge.json()["expires_in"] == 600
    signature = tronweb_sign(key, challenge.json()["message"])["signatures"][0]
    verified = client.post(
        "/api/v1/wallets/verify",
        {"address": address_of(key), "signature": signature},
        content_type="application/json",
    )
    assert verified.status_code == 201, verified.json()
    assert verified.json()["address"] == address_of(key)

    listed = client.get("/api/v1/wallets")
    assert [wallet["address"] for wallet in listed.json()] == [address_of(key)]

    assert client.delete(f"/api/v1/wallets/{address_of(key)}").status_code == 204
    assert client.delete(f"/api/v1/wallets/{address_of(key)}").status_code == 404
    assert client.get("/api/v1/wallets").json() == []


def test_api_refusals_say_why(fan: User) -> None:
    key, other = PrivateKey.random(), PrivateKey.random()
    client = Client()
    client.force_login(fan)

    def verify(address: str, signature: str) -> tuple[int, Any]:
        answer = client.post(
            "/api/v1/wallets/verify",
            {"address": address, "signature": signature},
            content_type="application/json",
        )
        return answer.status_code, answer.json()

    status, body = verify(address_of(key), tronpy_sign(key, "no challenge asked"))
    assert (status, body["code"]) == (409, "no_challenge")
    message = client.post("/api/v1/wallets/challenge").json()["message"]
    status, body = verify(address_of(key), tronpy_sign(other, message))
    assert (status, body["code"]) == (400, "wrong_signer")
    assert address_of(key) in body["detail"]
    status, body = verify("T123", tronpy_sign(key, message))
    assert (status, body["code"]) == (400, "not_an_address")
    status, body = verify(address_of(key), "0x" + "zz" * 65)
    assert (status, body["code"]) == (400, "wrong_signer")
    assert verify(address_of(key), tronpy_sign(key, message))[0] == 201


def test_the_wallet_api_needs_authentication(db: None) -> None:
    client = Client()

    assert client.get("/api/v1/wallets").status_code == 401
    assert client.post("/api/v1/wallets/challenge").status_code == 401
