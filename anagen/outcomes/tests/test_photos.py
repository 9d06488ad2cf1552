"""Photos: EXIF stripped, SHA-256, consent-bound and audited access, overlay, comparison."""

import datetime as dt
import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from anagen.audit.models import AuditEvent
from anagen.outcomes import services
from anagen.outcomes.tests.helpers import jpeg, photo_consent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _set(staff, patient, on=dt.date(2026, 1, 10)):
    return services.photo_set_create(actor=staff.actor(staff.nurse), patient=patient, taken_on=on)


def test_exif_stripped_orientation_applied_hash_and_thumbnail(clinic_a, patient_a):
    photo_consent(clinic_a, patient_a)
    photo = services.photo_add(
        actor=clinic_a.actor(clinic_a.nurse),
        photo_set=_set(clinic_a, patient_a),
        view="vertex",
        content=jpeg(size=(64, 48)),
    )
    stored = photo.file.read()
    assert photo.sha256 == hashlib.sha256(stored).hexdigest()
    img = Image.open(io.BytesIO(stored))
    assert not img.getexif() and b"SecretCam" not in stored
    assert (photo.width, photo.height) == (48, 64)  # orientation 6 applied before stripping
    assert str(photo.file.name).startswith("outcomes/photos/") and len(str(photo.file.name)) > 40
    assert max(Image.open(photo.thumbnail).size) <= services.THUMB_EDGE


def test_non_image_and_empty_rejected(clinic_a, patient_a):
    photo_consent(clinic_a, patient_a)
    ps = _set(clinic_a, patient_a)
    for bad in (b"%PDF-1.4 not an image", b""):
        with pytest.raises(ValidationError):
            services.photo_add(
                actor=clinic_a.actor(clinic_a.nurse), photo_set=ps, view="vertex", content=bad
            )


def test_consent_required_to_take_and_marketing_needs_marketing_consent(clinic_a, patient_a):
    with pytest.raises(PermissionDenied, match="clinical"):
        _set(clinic_a, patient_a)
    photo_consent(clinic_a, patient_a)
    photo = services.photo_add(
        actor=clinic_a.actor(clinic_a.nurse),
        photo_set=_set(clinic_a, patient_a),
        view="vertex",
        content=jpeg(),
    )
    actor = clinic_a.actor(clinic_a.physician)
    assert services.photo_read(actor=actor, photo=photo)
    with pytest.raises(PermissionDenied, match="marketing"):
        services.photo_read(actor=actor, photo=photo, purpose="marketing")
    photo_consent(clinic_a, patient_a, "photo_marketing")
    assert services.photo_read(actor=actor, photo=photo, purpose="marketing")
    assert AuditEvent.objects.filter(action="photo.read", object_id=str(photo.pk)).count() == 2


def test_photo_pages_capture_overlay_compare_and_isolation(clinic_a, clinic_b, patient_a):
    photo_consent(clinic_a, patient_a)
    c = clinic_a.client(clinic_a.nurse)
    r = c.post(f"/patients/{patient_a.pk}/photos/", {"taken_on": "2025-06-01"})
    assert r.status_code == 302
    capture = r["Location"]
    page = c.get(capture + "?view=vertex")
    assert (
        'capture="environment"' in page.content.decode()
        and 'id="no-ghost"' in page.content.decode()
    )
    r = c.post(capture, {"view": "vertex", "file": SimpleUploadedFile("a.jpg", jpeg("red"))})
    assert r.status_code == 302
    bad = c.post(capture, {"view": "top", "file": SimpleUploadedFile("a.txt", b"hello")})
    assert bad.status_code == 400 and "not a photo we can read" in bad.content.decode()
    assert "Pillow" not in bad.content.decode()
    # Second visit: the capture page shows the first visit's vertex as the ghost overlay.
    r = c.post(f"/patients/{patient_a.pk}/photos/", {"taken_on": "2026-01-10"})
    page = c.get(r["Location"] + "?view=vertex").content.decode()
    assert 'id="ghost"' in page and "1 Jun 2025" in page and "2025-06-01" not in page
    c.post(r["Location"], {"view": "vertex", "file": SimpleUploadedFile("b.jpg", jpeg("blue"))})
    compare = c.get(f"/patients/{patient_a.pk}/photos/compare/?view=vertex&mode=slider")
    body = compare.content.decode()
    assert (
        'id="compare-slider"' in body
        and "Before 1 Jun 2025" in body
        and "After 10 Jan 2026" in body
    )
    side = c.get(f"/patients/{patient_a.pk}/photos/compare/?view=vertex").content.decode()
    assert 'id="compare-side"' in side
    from anagen.outcomes.models import Photo

    photo = Photo.objects.order_by("pk").first()
    assert photo is not None
    url = f"/patients/{patient_a.pk}/photos/file/{photo.pk}/"
    served = c.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served["Cache-Control"] == "private, no-store"
    assert clinic_b.client(clinic_b.physician).get(url).status_code == 404
    assert clinic_a.client(clinic_a.front_desk).get(url).status_code == 403
    assert c.get(url + "?purpose=nonsense").status_code == 400
    assert "style=" not in side and "style=" not in body


def test_no_consent_page_says_so(clinic_a, patient_a):
    page = clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/photos/")
    assert 'id="no-photo-consent"' in page.content.decode()
