from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "anagen.care"
    label = "care"

    def ready(self) -> None:
        from anagen.care import timeline  # noqa: F401  (registers chart timeline sources)
