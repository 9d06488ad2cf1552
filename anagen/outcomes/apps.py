from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "anagen.outcomes"
    label = "outcomes"

    def ready(self) -> None:
        from anagen.outcomes import timeline  # noqa: F401  (registers chart timeline sources)
