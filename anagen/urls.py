from django.contrib.auth import views as auth_views
from django.urls import include, path

from anagen.accounts import views as accounts_views
from anagen.api import api
from anagen.audit import views as audit_views
from anagen.patients import views as patient_views
from anagen.web import views as web_views
from anagen.web.ping import session_ping

urlpatterns = [
    path("", web_views.home, name="home"),
    path("today/worklist/", web_views.home_worklist, name="home-worklist"),
    path("today/check-in/<int:appointment_id>/", web_views.home_check_in, name="home-check-in"),
    *web_views.section_paths(),  # each worklist section in full: today/arrivals/, …
    path("healthz", web_views.health, name="health"),
    path("session/ping", session_ping, name="session-ping"),
    path("login/", accounts_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("clinic/switch/", accounts_views.clinic_switch, name="clinic-switch"),
    path("", include("anagen.accounts.urls")),
    path("account/tokens/", accounts_views.api_tokens, name="api-tokens"),
    path("staff/", accounts_views.staff_list, name="staff-list"),
    path("staff/<int:membership_id>/role/", accounts_views.staff_role, name="staff-role"),
    path("staff/<int:membership_id>/active/", accounts_views.staff_active, name="staff-active"),
    path("audit/", audit_views.audit_list, name="audit-list"),
    path("patients/", patient_views.patient_list, name="patient-list"),
    path("patients/new/", patient_views.patient_create, name="patient-create"),
    path("patients/<int:patient_id>/", patient_views.patient_detail, name="patient-detail"),
    path("patients/<int:patient_id>/edit/", patient_views.patient_edit, name="patient-edit"),
    path(
        "patients/<int:patient_id>/intake/new/",
        patient_views.intake_create,
        name="intake-create",
    ),
    path(
        "patients/<int:patient_id>/intake/<int:version>/",
        patient_views.intake_detail,
        name="intake-detail",
    ),
    path("", include("anagen.patients.urls")),
    path("", include("anagen.imports.urls")),
    path("", include("anagen.care.urls")),
    path("", include("anagen.scheduling.urls")),
    path("", include("anagen.procedures.urls")),
    path("", include("anagen.outcomes.urls")),
    path("", include("anagen.billing.urls")),
    path("", include("anagen.fhir.urls")),
    path("api/v1/", api.urls),
]

handler404 = "anagen.web.errors.not_found"
handler500 = "anagen.web.errors.server_error"
handler403 = "anagen.web.errors.forbidden"
handler400 = "anagen.web.errors.bad_request"
