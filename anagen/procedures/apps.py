from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    name = "anagen.procedures"
    label = "procedures"

    def ready(self) -> None:
        from anagen.procedures import timeline  # noqa: F401  (registers chart timeline sources)
