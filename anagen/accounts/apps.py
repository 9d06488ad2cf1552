from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "anagen.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Login audit receivers; cached sign-ins forgotten on every change (issue 15).
        from anagen.accounts import signals, signed_in  # noqa: F401
