from typing import Any

from django.apps import AppConfig


def _token_changed(sender: Any, **kwargs: Any) -> None:
    from anagen.accounts import signed_in

    signed_in.changed()


class InteropConfig(AppConfig):
    name = "anagen.interop"
    label = "interop"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from anagen.accounts.models import ApiToken

        # API tokens are remembered per worker with the signed-in context (interop/auth.py):
        # a saved (revoked) or deleted token is forgotten at once, here and in other workers.
        post_save.connect(_token_changed, sender=ApiToken, dispatch_uid="api-token-cache-save")
        post_delete.connect(_token_changed, sender=ApiToken, dispatch_uid="api-token-cache-delete")
