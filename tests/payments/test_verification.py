"""Proving payments from java-tron's JSON, and what a proven (or refused) transfer does.

The JSON is shaped exactly like a full node's ``gettransactionbyid`` / ``gettransactioninfobyid``
answers (see ``tests.payments.tron_json``, checked against real mainnet transactions). Every
refused case asserts that nothing was credited and nothing granted.
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import base58
import pytest
from django.db import connection
from django.test import override_settings

from accounts.models import User
from creators.models import Creator
from ledger.models import Grant
from payments import claims, crediting, invoices, pricing
from payments.chain.verification import (
    OWN_TRANSFER,
    TRANSFER_TOPIC,
    ChainTransfer,
    Refusal,
    Refused,
    Verified,
    verify_transfers,
)
from payments.errors import ClaimConflict, NotFound
from payments.models import Invoice, InvoiceEvent, Payment, TxClaim
from payments.money import Amount, Token
from purchases import services as purchases
from tests.payments import tron_json
from tests.payments.factories import (
    CREATOR_ADDRESS,
    FAN_ADDRESS,
    FIRST_DUE,
    OTHER_ADDRESS,
    STRANGER_ADDRESS,
    paid_content,
    paying,
    proven,
    proven_claim,
    purchase,
    with_wallet,
)
from tests.payments.tron_json import (
    BLOCK_TIME_MS,
    MAINNET_TRC20_OTHER_TOKEN,
    MAINNET_TRX,
    at,
    evm_address,
    raw_data_hex,
    trc10_transfer,
    trc20_transfer,
    trx_transfer,
    word,
)

BTT = Token.BTT
FAKE_BTT = tron_json.address_of(666)  # a contract that also calls itself BTT
US = {CREATOR_ADDRESS}


def verify(
    transaction: dict[str, Any], info: dict[str, Any], token: Token = BTT, **kwargs: Any
) -> Verified | Refused:
    return verify_transfers(transaction, info, token=token, recipients=US, **kwargs)


def refusal(result: Verified | Refused) -> Refusal:
    assert isinstance(result, Refused), result
    return result.reason


# --- the fixtures are real ------------------------------------------------------------------


@pytest.mark.parametrize("vector", [MAINNET_TRC20_OTHER_TOKEN, MAINNET_TRX])
def test_builder_reproduces_mainnet_vectors(vector: dict[str, Any]) -> None:
    assert raw_data_hex(vector["raw_data"]) == vector["raw_data_hex"]


# --- pure verification: what proves a payment ---------------------------------------------------


@pytest.mark.parametrize("visible", [False, True])
def test_a_btt_transfer_to_us_is_proven_from_its_receipt(visible: bool) -> None:
    transaction, info = trc20_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=10**18 + 7, memo="ABC", visible=visible
    )

    result = verify(transaction, info, txid=transaction["txID"])

    assert result == Verified(
        (
            ChainTransfer(
                txid=transaction["txID"],
                log_index=0,
                amount=Amount(10**18 + 7, BTT),
                sender=FAN_ADDRESS,
                recipient=CREATOR_ADDRESS,
                block_number=70_000_000,
                block_time=datetime(2026, 1, 1, tzinfo=UTC),
                memo="ABC",
            ),
        )
    )


@pytest.mark.parametrize("visible", [False, True])
def test_a_trc10_btt_transfer_is_proven_by_its_asset_id(visible: bool) -> None:
    transaction, info = trc10_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=2_500_000, visible=visible
    )

    result = verify(transaction, info, Token.BTTOLD)

    assert isinstance(result, Verified)
    (transfer,) = result.transfers
    assert (transfer.amount, transfer.log_index, transfer.sender) == (
        Amount(2_500_000, Token.BTTOLD),
        OWN_TRANSFER,
        FAN_ADDRESS,
    )


def test_a_real_mainnet_trx_transfer_is_proven() -> None:
    recipient = base58.b58encode_check(bytes.fromhex("4105cc125604448afeb6867eb688efb7e80411d57a"))
    info = {
        "id": MAINNET_TRX["txID"],
        "blockNumber": 62258698,
        "blockTimeStamp": 1717419792000,
        "receipt": {"net_usage": 265},
    }

    result = verify_transfers(MAINNET_TRX, info, token=Token.TRX, recipients={recipient.decode()})

    assert isinstance(result, Verified)
    assert result.transfers[0].amount == Amount(5, Token.TRX)


def test_several_btt_transfers_in_one_transaction_are_told_apart_by_log_index() -> None:
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=5)
    second = copy.deepcopy(info["log"][0])
    second["data"] = word(9)
    unrelated = {"address": evm_address(FAKE_BTT), "topics": [TRANSFER_TOPIC], "data": ""}
    info["log"] = [info["log"][0], unrelated, second]

    result = verify(transaction, info)

    assert isinstance(result, Verified)
    assert [(t.log_index, t.amount.units) for t in result.transfers] == [(0, 5), (2, 9)]


# --- pure verification: what does not --------------------------------------------------------


def test_a_fake_btt_is_the_wrong_token() -> None:
    transaction, info = trc20_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=10**20, contract=FAKE_BTT
    )

    assert refusal(verify(transaction, info)) is Refusal.WRONG_TOKEN


def test_a_real_mainnet_transfer_of_another_token_is_the_wrong_token() -> None:
    # given: a real TRC-20 transfer (with a memo) of a token that is not BTT, to its recipient
    value = MAINNET_TRC20_OTHER_TOKEN["raw_data"]["contract"][0]["parameter"]["value"]
    recipient = base58.b58encode_check(bytes.fromhex("41" + value["data"][32:72])).decode()
    info = {
        "id": MAINNET_TRC20_OTHER_TOKEN["txID"],
        "fee": 0,
        "blockNumber": 29_621_000,
        "blockTimeStamp": 1615967187000,
        "contractResult": [word(1)],
        "contract_address": value["contract_address"],
        "receipt": {"energy_usage_total": 13_000, "net_usage": 345, "result": "SUCCESS"},
        "log": [
            {
                "address": value["contract_address"][2:],
                "topics": [
                    TRANSFER_TOPIC,
                    "0" * 24 + value["owner_address"][2:],
                    value["data"][8:72],
                ],
                "data": value["data"][72:],
            }
        ],
    }

    result = verify_transfers(MAINNET_TRC20_OTHER_TOKEN, info, token=BTT, recipients={recipient})

    assert refusal(result) is Refusal.WRONG_TOKEN


def test_btt_to_someone_else_is_the_wrong_recipient() -> None:
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=OTHER_ADDRESS, units=10**20)

    assert refusal(verify(transaction, info)) is Refusal.WRONG_RECIPIENT


def test_the_call_data_is_not_believed_the_receipt_is() -> None:
    # given: a call that says "to us", while the token's own log says it went elsewhere
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=100)
    info["log"][0]["topics"][2] = word(OTHER_ADDRESS)

    assert refusal(verify(transaction, info)) is Refusal.WRONG_RECIPIENT


@pytest.mark.parametrize("visible", [False, True])
def test_a_reverted_transfer_in_a_block_is_refused(visible: bool) -> None:
    transaction, info = trc20_transfer(
        sender=FAN_ADDRESS,
        recipient=CREATOR_ADDRESS,
        units=10**20,
        outcome="REVERT",
        visible=visible,
    )
    assert "blockNumber" in info  # a failed call still sits in its block

    assert refusal(verify(transaction, info)) is Refusal.FAILED


def test_a_receipt_that_is_not_success_is_refused_even_if_ret_says_success() -> None:
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=10)
    info["receipt"]["result"] = "OUT_OF_ENERGY"

    assert refusal(verify(transaction, info)) is Refusal.FAILED


@pytest.mark.parametrize(
    ("transaction_and_info", "token"),
    [
        (trc10_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=5, asset="1002001"),
         Token.BTTOLD),
        (trc10_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=5), BTT),
        (trx_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=5), BTT),
        (trx_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=5), Token.BTTOLD),
        (trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=5), Token.BTTOLD),
    ],
    ids=["other-trc10-asset", "trc10-for-trc20", "trx-for-trc20", "trx-for-trc10",
         "trc20-for-trc10"],
)  # fmt: skip
def test_another_token_or_standard_is_the_wrong_token(
    transaction_and_info: tuple[dict[str, Any], dict[str, Any]], token: Token
) -> None:
    assert refusal(verify(*transaction_and_info, token)) is Refusal.WRONG_TOKEN


def test_an_nft_transfer_event_is_not_a_token_transfer() -> None:
    # ERC-721's Transfer has the same signature, with the token id as a fourth topic.
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1)
    info["log"][0]["topics"].append(word(1))
    info["log"][0]["data"] = ""

    assert refusal(verify(transaction, info)) is Refusal.NO_TRANSFER


def test_a_transfer_of_nothing_pays_nothing() -> None:
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=0)

    assert refusal(verify(transaction, info)) is Refusal.NO_TRANSFER


def test_unknown_and_unmined_transactions_are_not_final() -> None:
    transaction, _ = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1)

    assert refusal(verify({}, {})) is Refusal.NOT_FOUND
    assert refusal(verify(transaction, {})) is Refusal.PENDING
    assert refusal(verify(transaction, {"Error": "class java.lang.NullPointerException"})) is (
        Refusal.NODE_ERROR
    )
    assert not Refusal.PENDING.final
    assert Refusal.WRONG_TOKEN.final


def test_disagreeing_ids_are_a_mismatch() -> None:
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1)
    other, other_info = trc20_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1, seq=1
    )

    assert refusal(verify(transaction, info, txid=other["txID"])) is Refusal.MISMATCH
    assert refusal(verify(transaction, other_info)) is Refusal.MISMATCH
    forged = {**transaction, "txID": other["txID"]}  # raw data of one, id of another
    assert refusal(verify(forged, {**info, "id": other["txID"]})) is Refusal.MISMATCH


@pytest.mark.parametrize(
    ("transaction", "info"),
    [
        ([], {}),
        ("garbage", "garbage"),
        ({"txID": "zz"}, {"blockNumber": 1}),
        ({"txID": "ab" * 32}, {"id": "ab" * 32, "blockNumber": 1}),
        ({"txID": "ab" * 32, "raw_data": {"contract": []}, "ret": [{}]},
         {"id": "ab" * 32, "blockNumber": 1, "blockTimeStamp": 1}),
        (trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1)[0],
         {**trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1)[1],
          "blockTimeStamp": "yesterday"}),
    ],
)  # fmt: skip
def test_garbage_is_refused_never_raised(transaction: Any, info: Any) -> None:
    assert refusal(verify(transaction, info)) is Refusal.MALFORMED


def test_a_transfer_log_whose_topic_is_not_an_address_is_no_transfer() -> None:
    transaction, info = trc20_transfer(sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1)
    info["log"][0]["topics"][2] = "ff" * 32

    assert refusal(verify(transaction, info)) is Refusal.NO_TRANSFER


# --- what a proven transfer does to an invoice --------------------------------------------------


def claim_and_check(
    user: User, invoice: Invoice, answers: tuple[dict[str, Any], dict[str, Any]]
) -> TxClaim:
    claim, _ = proven_claim(user, invoice, answers[0]["txID"])
    return claims.check_claim(claim.pk, *answers, solidified=True)


def assert_nothing_credited_or_granted(invoice: Invoice) -> None:
    invoice.refresh_from_db()
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert (invoice.amount_paid, invoice.state) == (0, Invoice.State.NEW)
    assert (invoice.partial, invoice.over, invoice.late) == (False, False, False)
    assert not Grant.objects.filter(user=invoice.payer, content=invoice.content).exists()
    assert not InvoiceEvent.objects.filter(
        invoice=invoice, kind__in=["payment", "state", "solidified"]
    ).exists()


def granted(invoice: Invoice) -> bool:
    return Grant.objects.filter(
        user=invoice.payer, content=invoice.content, source_ref=str(invoice.pk)
    ).exists()


def test_exact_payment_processing_on_inclusion_settled_on_solidification(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice))

    # when: its block is seen
    payment = crediting.record_transfer(transfer, solidified=False)

    # then: processing, paid, not yet granted
    invoice.refresh_from_db()
    assert payment is not None
    assert payment.matched_by == Payment.MatchedBy.AMOUNT
    assert (invoice.state, invoice.paid) == (Invoice.State.PROCESSING, FIRST_DUE)
    assert invoice.payer_address == FAN_ADDRESS
    assert not granted(invoice)

    # when: its block is solidified
    crediting.record_transfer(transfer, solidified=True)

    # then: settled and granted, with every step in the log
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    assert invoice.settled_at is not None
    assert granted(invoice)
    assert invoice.txids() == [transfer.txid]
    assert list(invoice.events.values_list("kind", "from_state", "to_state", "txid")) == [
        ("created", "", "new", ""),
        ("payment", "", "", transfer.txid),
        ("state", "new", "processing", transfer.txid),
        ("solidified", "", "", transfer.txid),
        ("state", "processing", "settled", transfer.txid),
    ]


def test_a_transfer_seen_twice_or_by_two_watchers_credits_once(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice))

    first = crediting.record_transfer(transfer, solidified=False)
    again = crediting.record_transfer(transfer, solidified=False)
    solid = crediting.record_transfer(transfer, solidified=True)
    solid_again = crediting.record_transfer(transfer, solidified=True)

    assert first is not None
    assert {again, solid, solid_again} == {first}
    invoice.refresh_from_db()
    assert (invoice.state, invoice.paid) == (Invoice.State.SETTLED, FIRST_DUE)
    assert Payment.objects.count() == 1
    assert invoice.events.filter(kind="payment").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_watchers_racing_credit_once(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def watcher() -> None:
        try:
            barrier.wait()
            crediting.record_transfer(transfer, solidified=True)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=watcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    invoice.refresh_from_db()
    assert (invoice.state, invoice.paid) == (Invoice.State.SETTLED, FIRST_DUE)
    assert Payment.objects.count() == 1
    assert invoice.events.filter(kind="payment").count() == 1
    assert invoice.events.filter(kind="state", to_state="settled").count() == 1


def test_a_claimed_exact_payment_settles_and_grants(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    claim = claim_and_check(fan, invoice, paying(invoice))

    invoice.refresh_from_db()
    assert claim.state == TxClaim.State.VERIFIED
    assert invoice.state == Invoice.State.SETTLED
    assert granted(invoice)


def test_the_memo_names_the_invoice(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    # an amount that names no invoice: only the memo says which one it pays
    units = invoice.amount_due + 10**18
    transfer = proven(*paying(invoice, units=units, memo=invoice.memo.lower()))

    payment = crediting.record_transfer(transfer, solidified=True)

    assert payment is not None
    assert payment.matched_by == Payment.MatchedBy.MEMO
    invoice.refresh_from_db()
    assert (invoice.state, invoice.over, invoice.amount_paid) == (
        Invoice.State.SETTLED,
        True,
        units,
    )


def test_a_fake_btt_credits_nothing(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    claim = claim_and_check(fan, invoice, paying(invoice, contract=FAKE_BTT))

    assert claim.state == TxClaim.State.REFUSED
    assert claim.detail.startswith("wrong_token")
    assert_nothing_credited_or_granted(invoice)
    assert invoice.events.filter(kind="claim_refused").count() == 1


def test_a_payment_to_another_address_credits_nothing(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    claim = claim_and_check(fan, invoice, paying(invoice, recipient=OTHER_ADDRESS))

    assert claim.state == TxClaim.State.REFUSED
    assert claim.detail.startswith("wrong_recipient")
    assert_nothing_credited_or_granted(invoice)


def test_a_reverted_transfer_credits_nothing(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    claim = claim_and_check(fan, invoice, paying(invoice, outcome="REVERT"))

    assert claim.state == TxClaim.State.REFUSED
    assert claim.detail.startswith("failed")
    assert_nothing_credited_or_granted(invoice)


def test_a_watcher_seeing_a_fake_or_reverted_transfer_credits_nothing(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    for answers in (paying(invoice, contract=FAKE_BTT), paying(invoice, outcome="REVERT", seq=1)):
        result = verify_transfers(
            *answers,
            token=BTT,
            recipients=invoices.watched_addresses(),
            btt_contract=pricing.btt_contract(),
        )
        assert isinstance(result, Refused)
    assert_nothing_credited_or_granted(invoice)


def test_a_short_payment_is_partial_and_grants_nothing(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    half = invoice.amount_due // 2

    claim = claim_and_check(fan, invoice, paying(invoice, units=half))

    invoice.refresh_from_db()
    assert claim.state == TxClaim.State.VERIFIED
    assert (invoice.state, invoice.amount_paid, invoice.partial) == (Invoice.State.NEW, half, True)
    assert not granted(invoice)

    # when: the rest arrives
    claim_and_check(fan, invoice, paying(invoice, units=invoice.amount_due - half, seq=1))

    invoice.refresh_from_db()
    assert (invoice.state, invoice.partial, invoice.over) == (Invoice.State.SETTLED, False, False)
    assert granted(invoice)
    assert len(invoice.txids()) == 2


def test_an_over_payment_settles_and_is_flagged(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    claim_and_check(fan, invoice, paying(invoice, units=invoice.amount_due + 5 * 10**18))

    invoice.refresh_from_db()
    assert (invoice.state, invoice.over, invoice.partial) == (Invoice.State.SETTLED, True, False)
    assert invoice.paid == FIRST_DUE + Amount.parse("5", BTT)
    assert granted(invoice)


def test_a_txid_claimed_for_two_invoices_credits_only_the_first(
    fan: User, stranger: User, creator: Creator
) -> None:
    first = purchase(fan, creator, "First")
    second = purchase(fan, creator, "Second")
    answers = paying(first)
    first_claim, _ = proven_claim(fan, first, answers[0]["txID"])
    # a second claim of the same txid is taken (a claim blocks no other), and checked first
    second_claim, _ = proven_claim(fan, second, answers[0]["txID"])

    second_claim = claims.check_claim(second_claim.pk, *answers, solidified=True)
    first_claim = claims.check_claim(first_claim.pk, *answers, solidified=True)

    assert (first_claim.state, second_claim.state) == ("verified", "refused")
    first.refresh_from_db()
    assert first.state == Invoice.State.SETTLED
    assert_nothing_credited_or_granted(second)


def test_claiming_someone_elses_payment_takes_nothing(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: the stranger pays their own invoice for the same album; the fan reads the txid off
    # the chain and claims it for their own invoice before the stranger's page does
    with_wallet(creator)
    album = paid_content(creator)
    thief, _ = purchases.create_purchase_invoice(fan, album)
    victim, _ = purchases.create_purchase_invoice(stranger, album)
    assert thief.amount_due != victim.amount_due  # each has its own tag
    answers = paying(victim, sender=STRANGER_ADDRESS)

    # when
    claim = claim_and_check(fan, thief, answers)

    # then: the fan could not sign for the stranger's wallet; the payment went to the invoice
    # its amount names, and the fan got nothing
    assert claim.state == TxClaim.State.REFUSED
    assert claim.detail.startswith("not_yours")
    assert not Payment.objects.exists()  # the claim touched nothing
    crediting.record_transfer(proven(*answers), solidified=True)  # the watcher sees it
    assert_nothing_credited_or_granted(thief)
    victim.refresh_from_db()
    assert victim.state == Invoice.State.SETTLED
    assert granted(victim)
    assert Payment.objects.get().invoice == victim


def test_a_transfer_already_credited_cannot_be_claimed_for_another_invoice(
    fan: User, creator: Creator
) -> None:
    first = purchase(fan, creator, "First")
    second = purchase(fan, creator, "Second")
    transfer = proven(*paying(first))
    crediting.record_transfer(transfer, solidified=True)

    with pytest.raises(ClaimConflict):
        proven_claim(fan, second, transfer.txid)

    assert_nothing_credited_or_granted(second)


def test_a_stranger_cannot_claim_for_an_invoice(
    fan: User, stranger: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)

    with pytest.raises(NotFound):
        claims.claim_transaction(stranger, invoice, "ab" * 32)

    assert not TxClaim.objects.exists()


def test_a_claim_of_a_transaction_not_yet_in_a_block_stays_pending(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    transaction, info = paying(invoice)
    claim, _ = proven_claim(fan, invoice, transaction["txID"])

    claim = claims.check_claim(claim.pk, transaction, {}, solidified=False)
    assert claim.state == TxClaim.State.PENDING
    assert claim.checked_at is not None
    claim = claims.check_claim(claim.pk, {}, {}, solidified=False)
    assert claim.state == TxClaim.State.PENDING
    assert_nothing_credited_or_granted(invoice)

    # when: it is mined
    claim = claims.check_claim(claim.pk, transaction, info, solidified=False)

    assert claim.state == TxClaim.State.VERIFIED
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.PROCESSING


def test_a_late_payment_is_recorded_and_flagged_on_the_expired_invoice(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice, after=timedelta(minutes=16)))

    payment = crediting.record_transfer(transfer, solidified=True)

    invoice.refresh_from_db()
    assert payment is not None
    assert payment.late
    assert (invoice.state, invoice.late, invoice.paid) == (Invoice.State.EXPIRED, True, FIRST_DUE)
    assert not granted(invoice)
    assert list(invoice.events.filter(kind="state").values_list("to_state", flat=True)) == [
        "expired"
    ]


def test_a_late_payment_after_the_expiry_job_is_still_recognised(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    invoices.expire_invoices(now=invoice.expires_at + timedelta(seconds=1))
    transfer = proven(*paying(invoice, after=timedelta(minutes=30)))

    crediting.record_transfer(transfer, solidified=True)

    invoice.refresh_from_db()
    assert (invoice.state, invoice.late, invoice.amount_paid) == (
        Invoice.State.EXPIRED,
        True,
        invoice.amount_due,
    )
    assert not granted(invoice)

    # when: the creator accepts it
    crediting.accept_late_payment(creator.user, invoice)

    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    assert granted(invoice)


def test_a_payment_mined_before_expiry_but_seen_after_the_expiry_job_settles(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    invoices.expire_invoices(now=invoice.expires_at + timedelta(seconds=1))
    transfer = proven(*paying(invoice, after=timedelta(minutes=14)))

    crediting.record_transfer(transfer, solidified=True)

    invoice.refresh_from_db()
    assert (invoice.state, invoice.late) == (Invoice.State.SETTLED, False)
    assert granted(invoice)


def test_a_transfer_dropped_before_solidification_invalidates_and_grants_nothing(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice))
    crediting.record_transfer(transfer, solidified=False)

    crediting.drop_transfer(transfer.txid, transfer.log_index)
    crediting.drop_transfer(transfer.txid, transfer.log_index)  # twice is harmless

    invoice.refresh_from_db()
    assert (invoice.state, invoice.amount_paid) == (Invoice.State.INVALID, 0)
    assert not granted(invoice)
    assert Payment.objects.get().dropped_at is not None


def test_a_solidified_transfer_never_drops(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice))
    crediting.record_transfer(transfer, solidified=True)

    crediting.drop_transfer(transfer.txid, transfer.log_index)

    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    assert granted(invoice)


def test_a_transfer_that_matches_no_invoice_credits_nothing(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice, units=invoice.amount_due + 1))

    assert crediting.record_transfer(transfer, solidified=True) is None

    assert_nothing_credited_or_granted(invoice)


@override_settings(PAYMENTS_TRC10_ENABLED=True)
def test_a_trc10_invoice_is_paid_in_trc10_only(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    album = paid_content(creator, price=Amount.parse("2", Token.BTTOLD))
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    assert invoice.due == Amount.parse("2.000001", Token.BTTOLD)
    when = at(invoice.created_at + timedelta(minutes=1))
    wrong = trc20_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=invoice.amount_due, block_time_ms=when
    )
    right = trc10_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=invoice.amount_due,
        block_time_ms=when, seq=1,
    )  # fmt: skip

    assert claim_and_check(fan, invoice, wrong).state == TxClaim.State.REFUSED
    assert_nothing_credited_or_granted(invoice)
    assert claim_and_check(fan, invoice, right).state == TxClaim.State.VERIFIED
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    assert granted(invoice)


def test_block_time_is_the_chains_not_ours() -> None:
    transaction, info = trc20_transfer(
        sender=FAN_ADDRESS, recipient=CREATOR_ADDRESS, units=1, block_time_ms=BLOCK_TIME_MS + 999
    )

    result = verify(transaction, info)

    assert isinstance(result, Verified)
    assert result.transfers[0].block_time == datetime(2026, 1, 1, 0, 0, 0, 999_000, tzinfo=UTC)


@override_settings(PAYMENTS_INSTANT_GRANT_UNITS={"BTT": 200 * 10**18})
def test_a_grant_at_the_first_confirmation_is_taken_back_if_the_payment_drops(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    transfer = proven(*paying(invoice))
    crediting.record_transfer(transfer, solidified=False)
    assert granted(invoice)

    crediting.drop_transfer(transfer.txid, transfer.log_index)

    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.INVALID
    assert not Grant.objects.filter(
        user=fan, content=invoice.content, revoked_at__isnull=True
    ).exists()
    assert invoice.txids() == []


def test_a_claim_never_seen_on_chain_is_given_up(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    claim, _ = proven_claim(fan, invoice, "cd" * 32)

    abandoned = claims.abandon_claim(claim.pk)
    claims.abandon_claim(claim.pk)  # twice is harmless

    assert abandoned.state == TxClaim.State.REFUSED
    assert abandoned.detail.startswith("not_found")
    assert invoice.events.filter(kind="claim_refused").count() == 1
    assert_nothing_credited_or_granted(invoice)
