from django.urls import path

from anagen.fhir import views

R = "fhir/R4/"
TYPE = "<str:rtype>"

urlpatterns = [
    path(f"{R}metadata", views.metadata, name="fhir-metadata"),
    path(f"{R}$export", views.export_system, name="fhir-export"),
    path(f"{R}Patient/$export", views.export_patients, name="fhir-export-patients"),
    path(f"{R}Group/<str:group_id>/$export", views.export_group, name="fhir-export-group"),
    path(f"{R}$export-status/<str:key>", views.export_status, name="fhir-export-status"),
    path(f"{R}$export-file/<str:key>/<str:name>", views.export_file, name="fhir-export-file"),
    path(f"{R}{TYPE}", views.search, name="fhir-search"),
    path(f"{R}{TYPE}/<str:rid>", views.read, name="fhir-read"),
]
