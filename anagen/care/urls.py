from django.urls import path

from anagen.care import print_views, views

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
    # Printing (PDFs audited by anagen.care.printing) and sheets for patients.
    path(f"{P}consents/<int:consent_id>/pdf/", print_views.consent_pdf, name="care-consent-pdf"),
    path(f"{P}sessions/<int:session_id>/pdf/", print_views.session_pdf, name="care-session-pdf"),
    path(f"{P}intake/<int:version>/pdf/", print_views.intake_pdf, name="care-intake-pdf"),
    path("billing/quotes/<int:quote_id>/pdf/", print_views.quote_pdf, name="care-quote-pdf"),
    path("care/sheets/", print_views.patient_texts_index, name="care-patient-texts"),
    path("care/aftercare/<slug:procedure>/", print_views.aftercare_page, name="care-aftercare"),
    path(
        "care/aftercare/<slug:procedure>/pdf/",
        print_views.aftercare_pdf,
        name="care-aftercare-pdf",
    ),
    path(
        "care/what-to-expect/<slug:procedure>/",
        print_views.what_to_expect_page,
        name="care-what-to-expect",
    ),
    path(
        "care/what-to-expect/<slug:procedure>/pdf/",
        print_views.what_to_expect_pdf,
        name="care-what-to-expect-pdf",
    ),
    path("care/consent-texts/", views.consent_templates, name="care-consent-templates"),
    path(
        "care/consent-texts/<slug:kind>/publish/",
        views.consent_template_publish,
        name="care-consent-template-publish",
    ),
]
