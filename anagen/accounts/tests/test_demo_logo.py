"""The demo clinics get a logo drawn when the demo loads: in the page header and on printed
documents, like an uploaded one; loading the demo again reuses the file."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from anagen.accounts import logo
from anagen.accounts.models import Clinic
from anagen.care import printing
from anagen.demo import _give_logo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_demo_logos_are_small_pngs_one_per_clinic():
    first, second = logo.demo_logo(0), logo.demo_logo(1)
    assert first != second
    for png in (first, second):
        with Image.open(io.BytesIO(png)) as img:
            assert img.format == "PNG" and max(img.size) <= logo.MAX_LOGO_EDGE
            assert not img.info.keys() - {"dpi"}  # pixels only, as an upload is kept
    assert logo.demo_logo(0) == first  # the same drawing every time


def test_the_demo_logo_is_in_the_header_and_on_printed_documents(clinic_a, tmp_path):
    _give_logo(clinic_a.clinic, 0)
    clinic = Clinic.objects.get(pk=clinic_a.clinic.pk)
    assert logo.logo_bytes(clinic) == logo.demo_logo(0)
    page = clinic_a.client(clinic_a.nurse).get("/").content.decode()
    assert f'src="/clinic/logo/?v={clinic.logo_version}"' in page
    picture = clinic_a.client(clinic_a.nurse).get("/clinic/logo/")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    actor = clinic_a.actor(clinic_a.physician)
    pdf = printing.aftercare_pdf(actor=actor, procedure="prp_scalp")
    assert sum(len(p.images) for p in PdfReader(io.BytesIO(pdf)).pages) == 1
    # Loading the demo again keeps the one file.
    _give_logo(clinic, 0)
    assert Clinic.objects.get(pk=clinic.pk).logo.name == clinic.logo.name
    assert len(list((tmp_path / "clinic-logos").iterdir())) == 1
