"""Create, list and revoke API tokens from the command line.

anagen api_token create --user USERNAME --clinic SLUG --name NAME [--days N]
    (prints the token once; valid N days, default 90, at most 365)
anagen api_token list [--user USERNAME]
anagen api_token revoke ID
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from anagen.accounts.clinic_time import clinic_time, human_datetime
from anagen.accounts.models import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS, ApiToken, Membership
from anagen.accounts.services import api_token_create, api_token_days, api_token_revoke


def _fail(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Manage bearer tokens for API integrations."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--user", required=True)
        create.add_argument("--clinic", required=True, help="clinic slug")
        create.add_argument("--name", required=True)
        # Read as text and checked here, so bad input is one line and exit status 2.
        create.add_argument(
            "--days",
            default=str(TOKEN_DEFAULT_DAYS),
            help=f"days it stays valid (1 to {TOKEN_MAX_DAYS}, default {TOKEN_DEFAULT_DAYS})",
        )
        listing = sub.add_parser("list")
        listing.add_argument("--user")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            try:
                days = api_token_days(options["days"])
            except ValidationError as exc:
                raise _fail(" ".join(exc.messages)) from None
            membership = Membership.objects.filter(
                user__username=options["user"], clinic__slug=options["clinic"], is_active=True
            ).first()
            if membership is None:
                raise _fail(
                    f"{options['user']} is not an active member of clinic {options['clinic']!r}"
                )
            if not options["name"].strip():
                raise _fail("--name must not be empty")
            token, raw = api_token_create(
                membership=membership, name=options["name"].strip(), days=days
            )
            self.stdout.write(f"Token {token.pk} for {membership}: {raw}")
            with clinic_time(membership.clinic):
                expires = human_datetime(token.expires_at)
            self.stdout.write(f"Store it now: it is not shown again. Valid until {expires}.")
        elif action == "list":
            tokens = ApiToken.objects.select_related("membership__user", "membership__clinic")
            if options.get("user"):
                tokens = tokens.filter(membership__user__username=options["user"])
            for t in tokens.order_by("pk"):
                state = "revoked" if t.revoked_at else "expired" if t.is_expired else "active"
                self.stdout.write(f"{t.pk}\t{state}\t{t.name}\t{t.membership}")
        else:
            found = ApiToken.objects.filter(pk=options["id"]).first()
            if found is None:
                raise _fail(f"no token with id {options['id']}")
            api_token_revoke(token=found)
            self.stdout.write(f"Token {found.pk} revoked.")
