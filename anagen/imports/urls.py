from django.urls import path

from anagen.imports import views

urlpatterns = [
    path("imports/patients/", views.import_list, name="patient-imports"),
    path("imports/patients/<int:import_id>/", views.import_detail, name="patient-import"),
    path(
        "imports/patients/<int:import_id>/start/",
        views.import_start,
        name="patient-import-start",
    ),
    path(
        "imports/patients/<int:import_id>/status/",
        views.import_status,
        name="patient-import-status",
    ),
    path("patients/<int:patient_id>/export/", views.patient_export, name="patient-export"),
    path(
        "exports/<int:export_id>/download/",
        views.patient_export_download,
        name="patient-export-download",
    ),
    path("patients/<int:patient_id>/erasure/", views.patient_erasure, name="patient-erasure"),
    path("settings/retention/", views.retention_settings, name="retention-settings"),
    path("imports/archive/", views.archive_import, name="patient-archive-import"),
]
