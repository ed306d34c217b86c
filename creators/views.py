from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.models import User
from creators import services
from creators.forms import CreatorProfileEditForm, CreatorProfileForm
from creators.models import Creator


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # behind login_required
    return request.user


def home(request: HttpRequest) -> HttpResponse:
    creators = Creator.objects.select_related("user").filter(user__is_active=True)
    return render(request, "creators/home.html", {"creators": creators})


def creator_page(request: HttpRequest, handle: str) -> HttpResponse:
    creator = get_object_or_404(Creator, handle=handle.lower(), user__is_active=True)
    return render(request, "creators/creator_page.html", {"creator": creator})


@login_required
def become_creator(request: HttpRequest) -> HttpResponse:
    if Creator.objects.filter(user=_user(request)).exists():
        return redirect("creator-profile")
    form = CreatorProfileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        creator = services.become_creator(_user(request), **form.cleaned_data)
        messages.success(request, f"You are now a creator: your page is @{creator.handle}.")
        return redirect("creator", handle=creator.handle)
    return render(request, "creators/become_creator.html", {"form": form})


@login_required
def edit_profile(request: HttpRequest) -> HttpResponse:
    creator = Creator.objects.filter(user=_user(request)).first()
    if creator is None:
        return redirect("become-creator")
    form = CreatorProfileEditForm(request.POST or None, request.FILES or None, instance=creator)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("creator-profile")
    return render(request, "creators/edit_profile.html", {"form": form, "creator": creator})
