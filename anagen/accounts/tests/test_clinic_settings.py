"""The clinic admin's settings page and the clinic's logo: on pages, the patient report and every
printed document; uploads bounded and re-encoded; no logo (or a lost file) = no image at all."""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image
from pypdf import PdfReader

from anagen.accounts import logo, services
from anagen.accounts.models import Clinic
from anagen.audit.models import AuditEvent
from anagen.care import printing

pytestmark = pytest.mark.django_db

URL = "/clinic/settings/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _png(size=(300, 120), mode="RGBA", text: str = "") -> bytes:
    from PIL import PngImagePlugin

    img = Image.new(mode, size, (20, 90, 120, 255) if mode == "RGBA" else (20, 90, 120))
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    out = io.BytesIO()
    img.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _jpeg(size=(2400, 800)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def _upload(client, content: bytes, name: str = "logo.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        URL, {"action": "logo", "logo": SimpleUploadedFile(name, content, "image/png")}
    )


def _pdf_images(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


# --- The settings page --------------------------------------------------------------------------


def test_only_who_may_change_settings_sees_the_page(clinic_a):
    assert clinic_a.client(clinic_a.admin).get(URL).status_code == 200
    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk):
        assert clinic_a.client(user).get(URL).status_code == 403
    nav = clinic_a.client(clinic_a.admin).get("/staff/").content.decode()
    assert 'href="/clinic/settings/"' in nav
    assert (
        'href="/clinic/settings/"' not in clinic_a.client(clinic_a.nurse).get("/").content.decode()
    )


def test_settings_save_and_are_audited(clinic_a):
    c = clinic_a.client(clinic_a.admin)
    response = c.post(
        URL,
        {
            "action": "settings",
            "name": "North Hair Clinic",
            "timezone": "Europe/Lisbon",
            "default_phone_region": "pt",
            "consent_drawn_signature": "on",
            "mfa_required_for_all": "on",
        },
    )
    assert response.status_code == 302
    clinic = Clinic.objects.get(pk=clinic_a.clinic.pk)
    assert clinic.name == "North Hair Clinic" and clinic.timezone == "Europe/Lisbon"
    assert clinic.default_phone_region == "PT"
    assert clinic.consent_drawn_signature and clinic.mfa_required_for_all
    changes = AuditEvent.objects.get(action="clinic.settings").changes or {}
    assert changes["timezone"] == ["Europe/London", "Europe/Lisbon"]
    assert changes["consent_drawn_signature"] == [False, True]
    # Saving the same values again changes (and audits) nothing.
    c.post(
        URL,
        {
            "action": "settings",
            "name": "North Hair Clinic",
            "timezone": "Europe/Lisbon",
            "default_phone_region": "PT",
            "consent_drawn_signature": "on",
            "mfa_required_for_all": "on",
        },
    )
    assert AuditEvent.objects.filter(action="clinic.settings").count() == 1


def test_bad_settings_show_errors_beside_their_fields(clinic_a):
    response = clinic_a.client(clinic_a.admin).post(
        URL,
        {
            "action": "settings",
            "name": "",
            "timezone": "Mars/Olympus",
            "default_phone_region": "ZZ",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("has-error") == 3
    assert "Give the country of the clinic" in html or "two letters" in html
    assert "Select a valid choice" in html or "time zone" in html
    assert Clinic.objects.get(pk=clinic_a.clinic.pk).name == clinic_a.clinic.name
    # The service refuses on its own too (e.g. from another caller).
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.clinic_settings_update(
            actor=clinic_a.actor(clinic_a.admin),
            name="X",
            timezone="Nowhere/City",
            default_phone_region="GB",
            consent_drawn_signature=False,
            mfa_required_for_all=False,
        )
    assert "timezone" in exc.value.message_dict


def test_settings_need_the_permission_in_the_service(clinic_a):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.clinic_logo_set(actor=clinic_a.actor(clinic_a.nurse), content=_png())


# --- The logo -------------------------------------------------------------------------------------


def test_a_logo_upload_is_re_encoded_and_shown_in_the_header(clinic_a):
    c = clinic_a.client(clinic_a.admin)
    response = _upload(c, _png(text="<script>alert(1)</script>"))
    assert response.status_code == 302
    clinic = Clinic.objects.get(pk=clinic_a.clinic.pk)
    stored = logo.logo_bytes(clinic)
    assert stored is not None and stored.startswith(b"\x89PNG")
    assert b"script" not in stored  # only the pixels are kept
    assert AuditEvent.objects.filter(action="clinic.logo").count() == 1
    # Every page's header shows it, for every member; the picture is served as PNG.
    page = clinic_a.client(clinic_a.nurse).get("/").content.decode()
    assert f'src="/clinic/logo/?v={clinic.logo_version}"' in page
    picture = clinic_a.client(clinic_a.nurse).get("/clinic/logo/")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert picture.content == stored


def test_a_big_jpeg_is_scaled_down_and_kept_as_png(clinic_a):
    services.clinic_logo_set(actor=clinic_a.actor(clinic_a.admin), content=_jpeg())
    stored = logo.logo_bytes(Clinic.objects.get(pk=clinic_a.clinic.pk))
    assert stored is not None
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "PNG" and max(img.size) == logo.MAX_LOGO_EDGE


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "PNG or JPEG"),
        (b"GIF89a" + b"\0" * 40, "PNG or JPEG"),
        (b"", "empty"),
        (_png()[:60], "PNG or JPEG"),
    ],
)
def test_what_is_not_a_png_or_jpeg_logo_is_refused_beside_the_field(clinic_a, content, fragment):
    response = _upload(clinic_a.client(clinic_a.admin), content, name="logo.svg")
    assert response.status_code == 400
    html = response.content.decode()
    assert "has-error" in html
    assert fragment in html or "The submitted file is empty" in html
    assert not Clinic.objects.get(pk=clinic_a.clinic.pk).logo


def test_too_many_pixels_are_refused_before_decoding(clinic_a):
    out = io.BytesIO()
    Image.new("1", (6000, 5000)).save(out, format="PNG")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.clinic_logo_set(actor=clinic_a.actor(clinic_a.admin), content=out.getvalue())
    assert "megapixels" in exc.value.message_dict["logo"][0]


def test_no_logo_means_no_image_anywhere(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.nurse)
    page = clinic_a.client(clinic_a.nurse).get("/").content.decode()
    assert "clinic-logo" not in page
    assert clinic_a.client(clinic_a.nurse).get("/clinic/logo/").status_code == 404
    assert _pdf_images(printing.aftercare_pdf(actor=actor, procedure="prp_scalp")) == 0
    report = clinic_a.client(clinic_a.physician).get(
        f"/patients/{patient_a.pk}/outcomes/report.pdf", {"format": "html"}
    )
    assert 'class="logo"' not in report.content.decode()


def test_pdfs_and_the_report_carry_the_logo(clinic_a, patient_a):
    from anagen.care.tests.helpers import consent, record_intake
    from anagen.outcomes import report

    services.clinic_logo_set(actor=clinic_a.actor(clinic_a.admin), content=_png())
    clinic_a.clinic.refresh_from_db()
    actor = clinic_a.actor(clinic_a.physician)
    assert _pdf_images(printing.aftercare_pdf(actor=actor, procedure="prp_scalp")) == 1
    assert _pdf_images(printing.what_to_expect_pdf(actor=actor, procedure="prp_scalp")) == 1
    signed = consent(clinic_a, patient_a)
    assert _pdf_images(printing.consent_pdf(actor=actor, patient=patient_a, consent=signed)) >= 1
    intake = record_intake(clinic_a, patient_a)
    assert _pdf_images(printing.intake_pdf(actor=actor, patient=patient_a, intake=intake)) == 1
    assert _pdf_images(report.report_pdf(actor=actor, patient=patient_a)) >= 1
    html = clinic_a.client(clinic_a.physician).get(
        f"/patients/{patient_a.pk}/outcomes/report.pdf", {"format": "html"}
    )
    assert '<img class="logo" src="data:image/png;base64,' in html.content.decode()


def test_a_lost_logo_file_is_no_broken_image_and_is_logged(clinic_a, patient_a, caplog):
    services.clinic_logo_set(actor=clinic_a.actor(clinic_a.admin), content=_png())
    clinic = Clinic.objects.get(pk=clinic_a.clinic.pk)
    clinic.logo.storage.delete(str(clinic.logo.name))
    actor = clinic_a.actor(clinic_a.physician)
    with caplog.at_level(logging.ERROR, logger="anagen.outcomes.storage"):
        assert _pdf_images(printing.aftercare_pdf(actor=actor, procedure="prp_scalp")) == 0
    assert "clinic logo" in caplog.text


def test_replacing_and_removing_the_logo(clinic_a, django_capture_on_commit_callbacks):
    c = clinic_a.client(clinic_a.admin)
    _upload(c, _png())
    first = str(Clinic.objects.get(pk=clinic_a.clinic.pk).logo.name)
    with django_capture_on_commit_callbacks(execute=True):  # the old file goes after commit
        _upload(c, _png(size=(200, 200)))
    clinic = Clinic.objects.get(pk=clinic_a.clinic.pk)
    assert clinic.logo.name != first and not clinic.logo.storage.exists(first)
    # Removing asks first (no JavaScript: a confirmation page), then removes.
    asked = c.post(URL, {"action": "logo-remove"})
    assert asked.status_code == 200 and Clinic.objects.get(pk=clinic.pk).logo
    with django_capture_on_commit_callbacks(execute=True):
        done = c.post(URL, {"action": "logo-remove", "confirm": "yes"})
    assert done.status_code == 302
    assert not Clinic.objects.get(pk=clinic.pk).logo
    assert not clinic.logo.storage.exists(str(clinic.logo.name))


def test_the_invoice_pdf_carries_the_logo(clinic_a, patient_a):
    from anagen.billing.tests.helpers import issued, prices

    prices(clinic_a)
    invoice = issued(clinic_a, patient_a, "consultation")
    client = clinic_a.client(clinic_a.front_desk)
    assert _pdf_images(client.get(f"/billing/invoices/{invoice.pk}/pdf/").content) == 0
    services.clinic_logo_set(actor=clinic_a.actor(clinic_a.admin), content=_png())
    assert _pdf_images(client.get(f"/billing/invoices/{invoice.pk}/pdf/").content) == 1
