from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from accounts import services
from accounts.models import ApiToken, User

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


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # every route here requires authentication
    return request.user


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> MeOut:
    user = _user(request)
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
def list_tokens(request: HttpRequest) -> list[ApiToken]:
    return list(_user(request).api_tokens.all())


@router.post("/tokens", response={201: IssuedTokenOut})
def create_token(request: HttpRequest, payload: TokenIn) -> tuple[int, IssuedTokenOut]:
    issued = services.issue_token(_user(request), payload.name)
    body = TokenOut.from_orm(issued.token).dict()
    return 201, IssuedTokenOut(**body, token=issued.secret)


@router.delete("/tokens/{token_id}", response={204: None, 404: dict[str, str]})
def revoke_token(request: HttpRequest, token_id: int) -> tuple[int, dict[str, str] | None]:
    if services.revoke_token(_user(request), token_id):
        return 204, None
    return 404, {"detail": "No such active token."}
