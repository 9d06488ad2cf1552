from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "anagen.accounts"
    label = "accounts"

    def ready(self) -> None:
        from anagen.accounts import signals  # noqa: F401  (login audit receivers)
