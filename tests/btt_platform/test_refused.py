"""Every app's refusals are one family, answered by the API in one shape."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from accounts import wallets
from btt_platform.api import refused
from btt_platform.errors import Refused
from creators.services import AlreadyCreator
from payments import errors as payment_errors
from payments.reconciliation import ReconciliationRefused
from payments.webhooks import errors as webhook_errors
from support import campaigns
from support import services as tips
from swarm import contents
from swarm.services import ModerationRefused


@pytest.mark.parametrize(
    ("refusal", "status", "body"),
    [
        (payment_errors.PaymentRefused("No."), 400, {"detail": "No."}),
        (payment_errors.NotFound("No such invoice."), 404, {"detail": "No such invoice."}),
        (payment_errors.ClaimConflict("Taken."), 409, {"detail": "Taken."}),
        (payment_errors.TooManyClaims("Slow down."), 429, {"detail": "Slow down."}),
        (webhook_errors.NotACreator("Creators only."), 403, {"detail": "Creators only."}),
        (tips.TooManyOpenTips("Pay one first."), 429, {"detail": "Pay one first."}),
        (campaigns.SoldOut("Sold out."), 409, {"detail": "Sold out."}),
        (contents.Gone("Removed."), 410, {"detail": "Removed."}),
        (AlreadyCreator("Already."), 409, {"detail": "Already."}),
        (ModerationRefused("Not published."), 409, {"detail": "Not published."}),
        (ReconciliationRefused("Credited meanwhile."), 409, {"detail": "Credited meanwhile."}),
        (wallets.WrongSigner("Not yours."), 400, {"detail": "Not yours.", "code": "wrong_signer"}),
        (
            wallets.ChallengeUnknown("Ask again."),
            409,
            {"detail": "Ask again.", "code": "no_challenge"},
        ),
    ],
)
def test_a_refusal_is_answered_with_its_status_message_and_code(
    refusal: Refused, status: int, body: dict[str, str]
) -> None:
    # given
    request = RequestFactory().post("/api/v1/anything")

    # when
    response = refused(request, refusal)

    # then
    assert isinstance(refusal, Refused)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.content) == body
