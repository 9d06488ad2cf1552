from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "anagen.ops"
    label = "ops"
    verbose_name = "Operations"
