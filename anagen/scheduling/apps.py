from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "anagen.scheduling"
    label = "scheduling"

    def ready(self) -> None:
        from anagen.scheduling import timeline  # noqa: F401  (registers chart timeline sources)
