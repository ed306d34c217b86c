"""``python manage.py create_user``: a user (optionally a creator) and a fresh API token."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.models import User
from creators import services as creator_services


class Command(BaseCommand):
    help = "Create a user, optionally a creator or staff, and print a personal API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", help="defaults to <username>@example.invalid")
        parser.add_argument("--password", help="random when omitted (then use password reset)")
        parser.add_argument("--staff", action="store_true")
        parser.add_argument("--superuser", action="store_true")
        parser.add_argument("--creator", action="store_true", help="also create a creator profile")
        parser.add_argument("--handle", help="creator handle (defaults to the username)")
        parser.add_argument("--display-name")
        parser.add_argument("--payout-address", help="the creator's TRON address (T…)")
        parser.add_argument("--token-name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        if options["creator"] and not options["payout_address"]:
            raise CommandError("--creator needs --payout-address (a TRON address)")
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username,
                    email=options["email"] or f"{username}@example.invalid",
                    password=options["password"] or secrets.token_urlsafe(24),
                    is_staff=options["staff"] or options["superuser"],
                    is_superuser=options["superuser"],
                )
                if options["creator"]:
                    creator_services.become_creator(
                        user,
                        handle=options["handle"] or username,
                        display_name=options["display_name"] or username,
                        payout_address=options["payout_address"],
                    )
                issued = services.issue_token(user, options["token_name"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"created {'creator' if options['creator'] else 'user'} {username}")
        self.stdout.write(issued.secret)
