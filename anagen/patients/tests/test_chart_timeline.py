"""The chart's timeline (issue 15): the list is written per request in Python, byte for byte as
patients/_timeline.html (nothing cached: every change to an entry shows at once), and reading
only the entries that can still make the list gives the same timeline as reading every source
in full."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from anagen.patients import timeline as tl
from anagen.patients.chart_html import timeline_html
from anagen.patients.models import Patient
from anagen.patients.timeline import TimelineEntry

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 30, 13, 5, tzinfo=dt.UTC)


def _entries(**change: object) -> list[TimelineEntry]:
    base = {
        "at": AT,
        "kind": "appointment",
        "title": "Treatment 1 — booked",
        "detail": "with Dr Test",
        "url": "/appointments/1/",
    }
    base.update(change)
    return [TimelineEntry(**base), TimelineEntry(at=AT - dt.timedelta(days=3), kind="x", title="Y")]  # type: ignore[arg-type]


def test_the_list_is_the_template_s_markup():
    entries = [
        *_entries(title='Ana <b> & "Co"', detail="d'Arc"),
        TimelineEntry(at=AT - dt.timedelta(days=9), kind="session", title="T", url="/x/?a=1&b=2"),
    ]
    for zone in ("Europe/London", "Asia/Tokyo", "America/New_York"):
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            reference = render_to_string(tl.TIMELINE_TEMPLATE, {"timeline": entries})
            assert timeline_html(entries) == reference
            assert timeline_html([]) == render_to_string(tl.TIMELINE_TEMPLATE, {"timeline": []})


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Treatment 1 — attended"},
        {"detail": "with Dr Other"},
        {"url": "/appointments/2/"},
        {"kind": "session"},
        {"at": AT + dt.timedelta(minutes=1)},
    ],
    ids=["title", "detail", "url", "kind", "time"],
)
def test_any_change_to_an_entry_shows(change):
    before = timeline_html(_entries())
    after = timeline_html(_entries(**change))
    assert before != after
    shown = str(change.get("title") or change.get("detail") or change.get("url") or "")
    if shown:
        assert shown in after and shown not in before
    if "at" in change:
        assert "13:06" in after and "13:06" not in before


def test_the_list_is_in_the_clinic_zone():
    entries = _entries(title=f"Zoned {timezone.now().timestamp()}")
    with timezone.override(zoneinfo.ZoneInfo("Europe/London")):
        london = timeline_html(entries)
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")):
        tokyo = timeline_html(entries)
    assert "13:05" in london and "22:05" in tokyo and "22:05" not in london


def _timeline_section(html: str) -> str:
    return html.split('id="tl-h"')[1].split("</section>")[0]


def test_chart_shows_a_change_at_once(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)
    url = reverse("patient-detail", args=[patient_a.pk])
    first = _timeline_section(client.get(url).content.decode())
    assert f"Record number {patient_a.record_number}" in first
    Patient.objects.filter(pk=patient_a.pk).update(record_number="A999999")
    second = _timeline_section(client.get(url).content.decode())
    assert "Record number A999999" in second and patient_a.record_number not in second


def test_bounded_reads_give_the_full_timeline(clinic_a, patient_a):
    """Each source reads only entries no older than the limit-th newest found so far: the
    result is the timeline that reading every source in full gives."""
    from anagen.accounts.access import Actor

    actor: Actor = clinic_a.actor(clinic_a.physician)
    calls: list[dt.datetime | None] = []
    start = AT - dt.timedelta(days=400)

    def dense(actor, patient, since):
        calls.append(since)
        rows = [
            TimelineEntry(at=start + dt.timedelta(days=3 * i), kind="dense", title=f"d{i}")
            for i in range(120)
        ]
        rows.sort(key=lambda e: e.at, reverse=True)
        return [e for e in rows if since is None or e.at >= since][: tl.TIMELINE_LIMIT]

    def sparse(actor, patient, since):
        calls.append(since)
        rows = [
            TimelineEntry(at=start + dt.timedelta(days=7 * i + 1), kind="sparse", title=f"s{i}")
            for i in range(60)
        ]
        rows.sort(key=lambda e: e.at, reverse=True)
        return [e for e in rows if since is None or e.at >= since][: tl.TIMELINE_LIMIT]

    saved = list(tl._SOURCES)
    try:
        tl._SOURCES[:] = [(1, 0, dense), (2, 1, sparse)]
        bounded = tl.timeline_for(actor=actor, patient=patient_a)
        assert calls[0] is None and calls[1] is not None  # the second source read less
        full = sorted(
            [*dense(actor, patient_a, None), *sparse(actor, patient_a, None)],
            key=lambda e: e.at,
            reverse=True,
        )[: tl.TIMELINE_LIMIT]
        assert bounded == full
    finally:
        tl._SOURCES[:] = saved


def _intake_section(html: str) -> str:
    return html.split('id="intake-h"')[1].split("</section>")[0]


def test_intake_summary_rendered_once_per_version(clinic_a, patient_a):
    """The latest intake's summary is rendered once per intake version: a second chart view
    reads none of its lines; a new version shows at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from anagen.patients.services import IntakeData, intake_record

    nurse = clinic_a.actor(clinic_a.nurse)

    def record(substance: str) -> None:
        intake_record(
            actor=nurse,
            patient=patient_a,
            data=IntakeData(
                conditions=[],
                smoking="never",
                allergies=[{"substance": substance, "reaction": "Rash"}],
            ),
        )

    record("Lidocaine")
    client = clinic_a.client(clinic_a.physician)
    url = reverse("patient-detail", args=[patient_a.pk])
    first = _intake_section(client.get(url).content.decode())
    assert "Lidocaine (Rash)" in first and "Version 1" in first
    with CaptureQueriesContext(connection) as ctx:
        again = _intake_section(client.get(url).content.decode())
    assert again == first
    lines = ("intakemedication", "intakelab", "intakepriortreatment", "intakepriorprocedure")
    assert not [q for q in ctx.captured_queries if any(t in q["sql"] for t in lines)]
    record("Chlorhexidine")
    second = _intake_section(client.get(url).content.decode())
    assert "Chlorhexidine (Rash)" in second and "Lidocaine" not in second
    assert "Version 2" in second
