from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "anagen.interop"
    label = "interop"
