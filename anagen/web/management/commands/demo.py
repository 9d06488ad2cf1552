from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from anagen.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo clinic (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_demo()
        self.stdout.write(
            f"Demo clinic ready: {result.created_users} new users, "
            f"{result.created_patients} new patients."
        )
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for username, role, clinic in result.logins:
            self.stdout.write(f"  {username:<18} {role:<13} {clinic}")
        self.stdout.write(
            "Physicians and clinic admins set up two-factor sign-in at their first sign-in "
            "(an authenticator app, or the key shown typed into one); nurses and front desk "
            "sign in with the password only."
        )
