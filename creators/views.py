"""The home page (every creator), becoming a creator and editing the profile. A creator's
public page and content covers are ``studio.views.pages``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe

from accounts.http import AuthenticatedHttpRequest
from creators import directory, services
from creators.forms import CreatorProfileEditForm, CreatorProfileForm
from creators.models import Creator


def home(request: HttpRequest) -> HttpResponse:
    # The directory is rendered from our own template, escaped there (creators/directory.py).
    listing = mark_safe(directory.directory_html(request.GET.get("page")))  # noqa: S308
    return render(request, "creators/home.html", {"directory": listing})


@login_required
def become_creator(request: AuthenticatedHttpRequest) -> HttpResponse:
    if Creator.objects.filter(user=request.user).exists():
        return redirect("creator-profile")
    form = CreatorProfileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        creator = services.become_creator(request.user, **form.cleaned_data)
        messages.success(request, f"You are now a creator: your page is @{creator.handle}.")
        return redirect("creator", handle=creator.handle)
    return render(request, "creators/become_creator.html", {"form": form})


@login_required
def edit_profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    creator = Creator.objects.filter(user=request.user).first()
    if creator is None:
        return redirect("become-creator")
    form = CreatorProfileEditForm(request.POST or None, request.FILES or None, instance=creator)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("creator-profile")
    return render(request, "creators/edit_profile.html", {"form": form, "creator": creator})
