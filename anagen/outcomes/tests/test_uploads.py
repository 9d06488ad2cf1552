"""Issue 13, uploads: bounded before decoding, decoded in bounded memory, truncated or corrupt
files refused (also after WeasyPrint flipped Pillow's global flag), missing files a clear 404."""

from __future__ import annotations

import datetime as dt
import io
import logging
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from anagen.outcomes import imaging, services
from anagen.outcomes.models import Photo
from anagen.outcomes.tests.helpers import jpeg, photo_consent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def flat_png(width: int, height: int) -> bytes:
    """A mostly flat RGB PNG built row by row (the test never holds the pixels): the issue's
    7300 × 5470 example compresses to about a hundred kilobytes."""
    z = zlib.compressobj(9)
    row = b"\x00" + b"\xc8\xa0\x90" * width
    idat = bytearray()
    for y in range(height):
        # a darker band every 500 rows, so it is not a single colour
        idat += z.compress(row if y % 500 else b"\x00" + b"\x40\x30\x20" * width)
    idat += z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", bytes(idat))
        + _chunk(b"IEND", b"")
    )


def big_jpeg(size: tuple[int, int] = (1600, 1200)) -> bytes:
    img = Image.new("RGB", size, (200, 160, 140))
    for x in range(0, size[0], 40):  # some detail, so the file is not trivially short
        img.paste((60, 40, 30), (x, 0, x + 8, size[1]))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _set(staff, patient, on=dt.date(2026, 1, 10)):
    photo_consent(staff, patient)
    return services.photo_set_create(actor=staff.actor(staff.nurse), patient=patient, taken_on=on)


def _add(staff, photo_set, content, view="vertex"):
    return services.photo_add(
        actor=staff.actor(staff.nurse), photo_set=photo_set, view=view, content=content
    )


def _messages(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(exc.value.message_dict["file"])


def test_pixel_count_is_refused_from_the_header_before_decoding(
    clinic_a, patient_a, settings, monkeypatch
):
    settings.ANAGEN_UPLOAD_MAX_PIXELS = 1_000_000
    ps = _set(clinic_a, patient_a)

    def no_decoding(self):  # pragma: no cover - the point is that it is never called
        raise AssertionError("decoded before the pixel check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ValidationError) as exc:
        _add(clinic_a, ps, flat_png(1200, 1000))
    assert "more than 1 megapixels" in _messages(exc)
    assert not Photo.objects.exists()


def test_file_size_is_refused_before_reading(clinic_a, patient_a, settings):
    settings.ANAGEN_UPLOAD_MAX_BYTES = 2048
    ps = _set(clinic_a, patient_a)
    content = big_jpeg((400, 300))
    assert len(content) > 2048
    with pytest.raises(ValidationError) as exc:
        _add(clinic_a, ps, content)
    assert "larger than" in _messages(exc)
    # The page refuses it from the upload's size (the form), with a message on the field.
    page = clinic_a.client(clinic_a.nurse).post(
        f"/patients/{patient_a.pk}/photos/{ps.pk}/capture/",
        {"view": "vertex", "file": SimpleUploadedFile("a.jpg", content, "image/jpeg")},
    )
    assert page.status_code == 400 and "The photo is larger than" in page.content.decode()


def test_defaults_are_40_megapixels_and_25_mb():
    assert imaging.DEFAULT_MAX_PIXELS == 40_000_000
    assert imaging.DEFAULT_MAX_BYTES == 25 * 1024 * 1024


def _truncated_jpeg() -> bytes:
    whole = big_jpeg()
    return whole[: len(whole) * 2 // 3]


def test_truncated_and_corrupt_images_are_refused_with_a_clear_message(clinic_a, patient_a):
    ps = _set(clinic_a, patient_a)
    with pytest.raises(ValidationError) as exc:
        _add(clinic_a, ps, _truncated_jpeg())
    assert "incomplete or damaged" in _messages(exc)
    png = flat_png(300, 200)
    with pytest.raises(ValidationError) as exc:
        _add(clinic_a, ps, png[: len(png) - 40])  # IDAT cut short
    assert "photo" in _messages(exc)
    corrupt = bytearray(png)
    corrupt[60:70] = b"\xff" * 10  # compressed data damaged
    with pytest.raises(ValidationError):
        _add(clinic_a, ps, bytes(corrupt))
    page = clinic_a.client(clinic_a.nurse).post(
        f"/patients/{patient_a.pk}/photos/{ps.pk}/capture/",
        {"view": "vertex", "file": SimpleUploadedFile("a.jpg", _truncated_jpeg(), "image/jpeg")},
    )
    assert page.status_code == 400 and "incomplete or damaged" in page.content.decode()
    assert not Photo.objects.exists()


def test_truncated_jpeg_is_refused_after_weasyprint_was_imported(clinic_a, patient_a):
    import weasyprint  # noqa: F401  (its import sets LOAD_TRUNCATED_IMAGES for the process)

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # whatever the version does, the worst case
    try:
        ps = _set(clinic_a, patient_a)
        with pytest.raises(ValidationError) as exc:
            _add(clinic_a, ps, _truncated_jpeg())
        assert "incomplete or damaged" in _messages(exc)
        # WeasyPrint's own setting is left as it was for its PDFs.
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
        # A whole photo still goes through.
        assert _add(clinic_a, ps, big_jpeg()).width == 1600
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def test_the_issues_small_huge_png_is_decoded_in_bounded_memory(clinic_a, patient_a, monkeypatch):
    """7300 × 5470 = 39.9 MP: under the 40 MP default, so accepted, but no full-size copy is
    made besides the one decode (no full-size convert, copy, transpose or premultiply): the
    issue's ~350 MB per request came from three such copies. The worker ceiling under 8 parallel
    maximal uploads is measured by benchmarks/upload_memory.py."""
    content = flat_png(7300, 5470)
    assert len(content) < 200 * 1024
    largest: list[int] = []
    for name in ("convert", "copy", "transpose", "reduce"):
        original = getattr(Image.Image, name)

        def spy(self, *args, _original=original, **kwargs):
            largest.append(self.width * self.height)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Image.Image, name, spy)
    photo = _add(clinic_a, _set(clinic_a, patient_a), content)
    assert max(photo.width, photo.height) <= imaging.MAX_PHOTO_EDGE
    assert (photo.width, photo.height) == (3000, 2248)
    full = 7300 * 5470
    # Strips of rows and the stored-size photo only: nothing near the full 39.9 MP is copied.
    assert largest and max(largest) <= imaging.MAX_PHOTO_EDGE**2 < full // 4


def test_a_large_jpeg_is_decoded_scaled_down(monkeypatch):
    """JPEG: the decoder itself scales (draft), so the full-size pixels never exist."""
    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        result = original(self)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    done = imaging.decode(big_jpeg((6400, 4800)))
    assert sizes[0] == (3200, 2400)  # decoded at 1/2 scale
    assert (done.width, done.height) == (3000, 2250)


# --- missing files -------------------------------------------------------------------------------


def _lose_a_photo(staff, patient) -> Photo:
    ps = _set(staff, patient, on=dt.date(2025, 6, 1))
    lost = _add(staff, ps, jpeg())
    nurse = staff.actor(staff.nurse)
    later = services.photo_set_create(actor=nurse, patient=patient, taken_on=dt.date(2025, 12, 1))
    _add(staff, later, jpeg("blue"))
    lost.file.storage.delete(str(lost.file.name))
    lost.thumbnail.storage.delete(str(lost.thumbnail.name))
    return lost


def test_missing_photo_is_a_clear_404_page_and_an_operator_alert(clinic_a, patient_a, caplog):
    lost = _lose_a_photo(clinic_a, patient_a)
    c = clinic_a.client(clinic_a.physician)
    base = f"/patients/{patient_a.pk}/photos/"
    with caplog.at_level(logging.ERROR, logger="anagen.outcomes.storage"):
        for url in (f"{base}file/{lost.pk}/", f"{base}file/{lost.pk}/?thumb=1"):
            r = c.get(url)
            assert r.status_code == 404
            assert "missing from storage" in r.content.decode()
        for page in (base, f"{base}compare/?view=vertex"):
            assert c.get(page).status_code == 200
        r = c.get(f"/patients/{patient_a.pk}/outcomes/report.pdf?format=html")
        # The patient's report says it in plain words (the staff pages name the storage).
        assert r.status_code == 200 and "photo could not be found" in r.content.decode()
        assert c.get(f"/patients/{patient_a.pk}/outcomes/report.pdf").status_code == 200
    alerts = [r for r in caplog.records if r.name == "anagen.outcomes.storage"]
    assert alerts and all(r.levelno == logging.ERROR for r in alerts)
    assert any(str(lost.pk) in r.getMessage() for r in alerts)
