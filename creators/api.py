from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from accounts.http import AuthenticatedHttpRequest
from creators import services
from creators.models import Creator

router = Router(tags=["creators"])


class CreatorOut(Schema):
    handle: str
    display_name: str
    bio: str
    avatar_url: str | None
    payout_address: str
    page_url: str

    @staticmethod
    def resolve_avatar_url(obj: Creator, context: dict[str, Any]) -> str | None:
        request: HttpRequest = context["request"]
        return request.build_absolute_uri(obj.avatar.url) if obj.avatar else None

    @staticmethod
    def resolve_page_url(obj: Creator, context: dict[str, Any]) -> str:
        request: HttpRequest = context["request"]
        return request.build_absolute_uri(reverse("creator", args=[obj.handle]))


class CreatorIn(Schema):
    handle: str
    display_name: str
    payout_address: str
    bio: str = ""


class CreatorPatch(Schema):
    display_name: str | None = None
    bio: str | None = None
    payout_address: str | None = None


@router.get("", response=list[CreatorOut], auth=None)
@paginate(LimitOffsetPagination)
def list_creators(request: HttpRequest) -> QuerySet[Creator]:
    return Creator.objects.filter(user__is_active=True).order_by("display_name", "pk")


@router.post("/me", response={201: CreatorOut, 409: dict[str, str]})
def become_creator(request: AuthenticatedHttpRequest, payload: CreatorIn) -> tuple[int, object]:
    creator = services.become_creator(request.user, **payload.dict())
    return 201, creator


@router.patch("/me", response={200: CreatorOut, 404: dict[str, str]})
def update_profile(request: AuthenticatedHttpRequest, payload: CreatorPatch) -> tuple[int, object]:
    creator = Creator.objects.filter(user=request.user).first()
    if creator is None:
        return 404, {"detail": "You have no creator profile yet; POST /api/v1/creators/me."}
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return 200, services.update_profile(creator, **changes)


@router.get("/{handle}", response=CreatorOut, auth=None)
def creator_detail(request: HttpRequest, handle: str) -> Creator:
    return get_object_or_404(Creator, handle=handle.lower(), user__is_active=True)
