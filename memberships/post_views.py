"""Post pages: a post (in full for who may read it, else its title, tier and the way to join),
the studio's posts (write, edit, delete), and turning post emails off and on (from the email's
signed link without logging in, or from the memberships page)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from btt_platform.errors import Refused
from creators.access import creator_required
from creators.models import Creator
from memberships import post_mail, posts
from memberships.post_forms import PostForm
from memberships.post_models import Post
from memberships.post_text import render as render_text
from payments.errors import NotFound


def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    try:
        post = posts.live_post(post_id)
    except NotFound as missing:
        raise Http404("No such post.") from missing
    user = request.user if isinstance(request.user, User) else None
    readable = posts.may_read(user, post).allowed
    context = {
        "post": post,
        "readable": readable,
        # The text is rendered only for a reader: a locked page holds none of it.
        "body": render_text(post.body) if readable else "",
        "attachments": list(post.attachments.all()) if readable else [],
    }
    return render(request, "memberships/post_detail.html", context, status=200 if readable else 403)


@creator_required
def studio_posts(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    form = PostForm(request.POST or None, creator=creator)
    if request.method == "POST" and form.is_valid():
        try:
            posts.publish_post(creator, **form.cleaned_data)
        except Refused as refusal:
            form.add_error(None, str(refusal))
        else:
            return redirect("studio-posts")
    listed = Post.objects.filter(creator=creator, deleted_at__isnull=True).select_related("tier")
    context = {
        "form": form,
        "posts": listed,
        "digest_minutes": settings.MEMBERSHIP_POST_DIGEST_MINUTES,
    }
    return render(request, "memberships/post_studio.html", context)


@creator_required
def studio_post_edit(
    request: AuthenticatedHttpRequest, creator: Creator, post_id: int
) -> HttpResponse:
    try:
        post = posts.own_post(request.user, post_id)
    except NotFound as missing:
        raise Http404("No such post.") from missing
    initial = {
        "title": post.title,
        "body": post.body,
        "tier": post.tier,
        "attachments": list(post.attachments.all()),
    }
    form = PostForm(request.POST or None, initial=initial, creator=creator)
    if request.method == "POST" and form.is_valid():
        try:
            posts.edit_post(post, **form.cleaned_data)
        except Refused as refusal:
            form.add_error(None, str(refusal))
        else:
            return redirect("studio-posts")
    return render(request, "memberships/post_edit.html", {"form": form, "post": post})


@require_POST
@creator_required
def studio_post_delete(
    request: AuthenticatedHttpRequest, creator: Creator, post_id: int
) -> HttpResponse:
    try:
        posts.delete_post(posts.own_post(request.user, post_id))
    except NotFound as missing:
        raise Http404("No such post.") from missing
    return redirect("studio-posts")


def post_emails_opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """The email's link: a page that asks (so that a mail scanner following links changes
    nothing), then turns the emails off on POST. No login: the signed token names the fan."""
    try:
        fan, creator = post_mail.read_opt_out_token(token)
    except (signing.BadSignature, User.DoesNotExist, Creator.DoesNotExist) as bad:
        raise Http404("This link is not valid.") from bad
    done = request.method == "POST"
    if done:
        post_mail.opt_out(fan, creator)
    return render(request, "memberships/post_emails.html", {"creator": creator, "done": done})


@login_required
@require_POST
def my_post_emails(request: AuthenticatedHttpRequest) -> HttpResponse:
    """From the memberships page: ``creator`` (an id, or empty for all) and ``emails`` on/off."""
    raw = request.POST.get("creator", "")
    creator = None if not raw else get_object_or_404(Creator, pk=raw if raw.isdigit() else 0)
    if request.POST.get("emails") == "on":
        post_mail.opt_in(request.user, creator)
    else:
        post_mail.opt_out(request.user, creator)
    return redirect("my-memberships")
