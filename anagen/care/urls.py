from django.urls import path

from anagen.care import views

P = "patients/<int:patient_id>/"

urlpatterns = [
    path(f"{P}assessments/new/", views.assessment_create, name="care-assessment-create"),
    path(
        f"{P}assessments/<int:version>/",
        views.assessment_detail,
        name="care-assessment-detail",
    ),
    path(f"{P}assessments/<int:version>/edit/", views.assessment_edit, name="care-assessment-edit"),
    path(f"{P}assessments/<int:version>/sign/", views.assessment_sign, name="care-assessment-sign"),
    path("care/salt/", views.salt_preview, name="care-salt"),
    path(f"{P}screenings/new/", views.screening_create, name="care-screening-create"),
    path(
        f"{P}screenings/<int:screening_id>/",
        views.screening_detail,
        name="care-screening-detail",
    ),
    path(
        f"{P}screenings/<int:screening_id>/override/",
        views.screening_override,
        name="care-screening-override",
    ),
    path(f"{P}consents/", views.consent_list, name="care-consent-list"),
    path(f"{P}consents/<slug:kind>/sign/", views.consent_sign, name="care-consent-sign"),
    path(f"{P}consents/<int:consent_id>/", views.consent_detail, name="care-consent-detail"),
    path(
        f"{P}consents/<int:consent_id>/withdraw/",
        views.consent_withdraw,
        name="care-consent-withdraw",
    ),
    path("care/consent-texts/", views.consent_templates, name="care-consent-templates"),
    path(
        "care/consent-texts/<slug:kind>/publish/",
        views.consent_template_publish,
        name="care-consent-template-publish",
    ),
]
