"""Soft delete and restore of patient records (the registry's other pages are in anagen/urls)."""

from django.urls import path

from anagen.patients import views

urlpatterns = [
    path("patients/deleted/", views.patients_deleted, name="patients-deleted"),
    path(
        "patients/deleted/<int:patient_id>/restore/",
        views.patient_restore,
        name="patient-restore",
    ),
    path("patients/<int:patient_id>/delete/", views.patient_delete, name="patient-delete"),
]
