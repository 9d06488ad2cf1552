from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "anagen.scheduling"
    label = "scheduling"

    def ready(self) -> None:
        from anagen.scheduling import calendar_version, timeline

        del timeline  # imported for its side effect: registers chart timeline sources

        calendar_version.connect()
