from django.urls import path

from anagen.procedures import views

S = "patients/<int:patient_id>/sessions/<int:session_id>/"

urlpatterns = [
    path(
        "patients/<int:patient_id>/sessions/new/",
        views.session_start,
        name="procedures-session-start",
    ),
    path(
        "appointments/<int:appointment_id>/session/",
        views.session_from_appointment,
        name="procedures-session-from-appointment",
    ),
    path(S, views.session_detail, name="procedures-session-detail"),
    path(f"{S}phase/", views.session_phase, name="procedures-session-phase"),
    path(f"{S}details/", views.session_details, name="procedures-session-details"),
    path(f"{S}preparation/", views.session_preparation, name="procedures-session-preparation"),
    path(f"{S}zones/", views.session_zones, name="procedures-session-zones"),
    path(f"{S}topical/", views.session_topical, name="procedures-session-topical"),
    path(f"{S}mesotherapy/", views.session_meso, name="procedures-session-meso"),
    path(
        f"{S}mesotherapy/<int:delivery_id>/remove/",
        views.session_meso_remove,
        name="procedures-session-meso-remove",
    ),
    path(f"{S}lots/", views.session_lot, name="procedures-session-lot"),
    path(f"{S}adverse-events/", views.session_adverse_event, name="procedures-session-ae"),
    path(
        f"{S}adverse-events/<int:event_id>/follow-up/",
        views.adverse_event_follow_up,
        name="procedures-ae-follow-up",
    ),
    path(f"{S}close/", views.session_close, name="procedures-session-close"),
    path(f"{S}sign/", views.session_sign, name="procedures-session-sign"),
    path("inventory/", views.inventory, name="procedures-inventory"),
    path("inventory/lots/<int:lot_id>/recall/", views.lot_recall, name="procedures-lot-recall"),
    path("formulations/", views.formulations, name="procedures-formulations"),
]
