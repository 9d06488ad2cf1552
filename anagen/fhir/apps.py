from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "anagen.fhir"
    label = "fhir"
    verbose_name = "FHIR R4"
