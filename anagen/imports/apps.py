from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "anagen.imports"
    label = "imports"
    verbose_name = "Imports"
