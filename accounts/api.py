from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Router, Schema

from accounts import services, wallets
from accounts.http import AuthenticatedHttpRequest
from accounts.models import ApiToken, VerifiedWallet

router = Router(tags=["account"])


class CreatorSummary(Schema):
    handle: str
    display_name: str


class MeOut(Schema):
    id: int
    username: str
    email: str
    is_creator: bool
    is_staff: bool
    creator: CreatorSummary | None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Schema):
    name: str


class IssuedTokenOut(TokenOut):
    token: str


@router.get("/me", response=MeOut)
def me(request: AuthenticatedHttpRequest) -> MeOut:
    user = request.user
    creator = getattr(user, "creator", None)
    return MeOut(
        id=user.pk,
        username=user.username,
        email=user.email,
        is_creator=creator is not None,
        is_staff=user.is_staff,
        creator=CreatorSummary(handle=creator.handle, display_name=creator.display_name)
        if creator
        else None,
    )


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request: AuthenticatedHttpRequest) -> list[ApiToken]:
    return list(request.user.api_tokens.all())


@router.post("/tokens", response={201: IssuedTokenOut})
def create_token(request: AuthenticatedHttpRequest, payload: TokenIn) -> tuple[int, IssuedTokenOut]:
    issued = services.issue_token(request.user, payload.name)
    body = TokenOut.from_orm(issued.token).dict()
    return 201, IssuedTokenOut(**body, token=issued.secret)


@router.delete("/tokens/{token_id}", response={204: None, 404: dict[str, str]})
def revoke_token(
    request: AuthenticatedHttpRequest, token_id: int
) -> tuple[int, dict[str, str] | None]:
    if services.revoke_token(request.user, token_id):
        return 204, None
    return 404, {"detail": "No such active token."}


# --- wallets: addresses the account proved to control (accounts.wallets) -------------------


class WalletOut(Schema):
    address: str
    verified_at: datetime


class ChallengeOut(Schema):
    message: str = Field(description="sign exactly this text with the wallet (TIP-191)")
    expires_in: int = Field(description="seconds the challenge stays valid; it is used once")


class VerifyIn(Schema):
    address: str = Field(max_length=100, description="base58 TRON address, T…")
    signature: str = Field(
        max_length=200, description="hex of r||s||v (65 bytes), as trx.signMessageV2 returns"
    )


class Refusal(Schema):
    detail: str
    code: str = Field(description="not_an_address, no_challenge or wrong_signer")


@router.get("/wallets", response=list[WalletOut])
def list_wallets(request: AuthenticatedHttpRequest) -> list[VerifiedWallet]:
    """The wallets this account verified: payments from them are recognised as yours."""
    return list(request.user.verified_wallets.all())


@router.post("/wallets/challenge", response={201: ChallengeOut})
def wallet_challenge(request: AuthenticatedHttpRequest) -> tuple[int, ChallengeOut]:
    """A one-time message to sign with the wallet to verify (TronLink:
    ``tronWeb.trx.signMessageV2(message)``), then ``POST /wallets/verify``."""
    message = wallets.wallet_challenge(request.user)
    return 201, ChallengeOut(message=message, expires_in=int(wallets.CHALLENGE_TTL.total_seconds()))


@router.post("/wallets/verify", response={201: WalletOut, 400: Refusal, 409: Refusal})
def verify_wallet(request: AuthenticatedHttpRequest, payload: VerifyIn) -> tuple[int, Any]:
    """Verify the wallet that signed this account's challenge. 400 for an address that is not
    TRON's or a signature that is not that address's over the challenge; 409 when there is no
    open challenge (expired after 10 minutes, or already used): ask for a new one."""
    wallet = wallets.verify_wallet(request.user, payload.address, payload.signature)
    return 201, wallet


@router.delete("/wallets/{address}", response={204: None, 404: dict[str, str]})
def remove_wallet(
    request: AuthenticatedHttpRequest, address: str
) -> tuple[int, dict[str, str] | None]:
    """Forget a verified wallet; its payments then need a signature again."""
    if wallets.remove_wallet(request.user, address):
        return 204, None
    return 404, {"detail": "No such verified wallet."}
