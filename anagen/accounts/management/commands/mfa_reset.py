"""Clear a person's two-factor sign-in (a lost phone) when no clinic admin can do it.

anagen mfa_reset USERNAME
    removes their authenticator app and recovery codes and ends their sessions; they set up
    two-factor sign-in again at their next sign-in. Audited (via the command line).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from anagen.accounts.models import User
from anagen.accounts.services import mfa_reset_by_operator


class Command(BaseCommand):
    help = "Reset a person's two-factor sign-in (they enrol again at their next sign-in)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user called {options['username']!r}.", returncode=2)
        mfa_reset_by_operator(user=user)
        self.stdout.write(
            f"Two-factor sign-in of {user.username} reset: they set it up at their next sign-in."
        )
