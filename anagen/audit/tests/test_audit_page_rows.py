"""The audit page at speed (issue 15): rows written in Python say exactly what the template said;
a patient's events come by the (patient, at, id) index with an erased patient's events kept;
sign-ins (no clinic) merge into the clinic's pages in order; the filter form is kept per input."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from anagen.audit.models import AuditAction, AuditEvent
from anagen.audit.selectors import Cursor, audit_page
from anagen.audit.services import audit_record
from anagen.patients.services import patient_soft_delete
from conftest import make_patient

pytestmark = pytest.mark.django_db

# The rows as the page's template wrote them before `audit_rows` (issue 15), kept as the oracle.
TEMPLATE_ROWS = """{% load audit_tags %}{% for e in events %}
  <tr><td><time datetime="{{ e.at|date:'c' }}">{{ e.at|when }}</time></td><td>{{ e.actor|default:e.username }}</td><td>{{ e.action_label }}</td>
      <td>{% if e.patient %}{% if e.patient.deleted_at %}{{ e.patient.record_number }} <span class="muted">(deleted)</span>{% else %}<a href="{% url 'patient-detail' e.patient_id %}">{{ e.patient.record_number }}</a>{% endif %}{% elif e.patient_id %}<span class="muted">Erased record</span>{% endif %}</td>
      <td>{{ e.object_type|object_label }}{% if e.object_id %} {{ e.object_id }}{% endif %}</td>
      <td class="changes">{% if e.changes_erased %}<span class="muted">Erased with the patient's record</span>{% else %}{% for line in e.changes|change_lines %}<div>{{ line }}</div>{% endfor %}{% endif %}</td><td>{{ e.via|via_label }}</td></tr>
  {% endfor %}"""


def _both(events: list[AuditEvent]) -> tuple[str, str]:
    old = Template(TEMPLATE_ROWS).render(Context({"events": events}))
    new = Template("{% load audit_tags %}{% audit_rows events %}").render(
        Context({"events": events})
    )
    return old, new


def test_rows_say_what_the_template_said(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.physician)
    gone = make_patient(clinic_a, given_name="Gone", family_name="Away", phone="07700 900999")
    audit_record(
        action=AuditAction.PATIENT_UPDATE,
        actor=actor,
        patient=patient_a,
        obj=patient_a,
        changes={"given_name": ["<b>Jo</b> & 'Al'", 'Jo "A"'], "signed_at": "2026-11-30T07:05"},
    )
    audit_record(action=AuditAction.CHART_READ, actor=actor, patient=gone, changes={"x": [1, 2]})
    audit_record(action=AuditAction.LOGIN_FAILURE, username="<mallory>", via="web")
    audit_record(action=AuditAction.STAFF_CREATE, actor=actor, changes={"role": None})
    patient_soft_delete(actor=clinic_a.actor(clinic_a.admin), patient=gone, reason="Duplicate")
    with timezone.override("Pacific/Auckland"):
        events, _ = audit_page(clinic=clinic_a.clinic)
        events += [e for e in AuditEvent.objects.filter(clinic__isnull=True)]
        # A patient whose row an erasure purged: the id stays, the patient is gone.
        erased = AuditEvent.objects.select_related("patient").get(pk=events[0].pk)
        AuditEvent._meta.get_field("patient").set_cached_value(erased, None)
        erased._changes = None  # the values were erased with the record
        events.append(erased)
        old, new = _both(events)
    assert new == old
    assert "(deleted)" in new and "Erased record" in new and "&lt;mallory&gt;" in new
    assert "&lt;b&gt;Jo&lt;/b&gt; &amp; &#x27;Al&#x27;" in new and "Erased with the" in new


def test_erased_patient_keeps_their_events_on_the_patient_page(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.nurse)
    for _ in range(3):
        audit_record(action=AuditAction.CHART_READ, actor=actor, patient=patient_a)
    # Rows without a database constraint: the patient's row may go, the events stay.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM patients_patient WHERE id = %s", [patient_a.pk])
    with CaptureQueriesContext(connection) as ctx:
        events, older = audit_page(clinic=clinic_a.clinic, patient_id=patient_a.pk)
    assert len(events) == 4 and older is None  # three reads and "Patient created"
    assert all(e.patient is None and e.patient_id == patient_a.pk for e in events)
    assert len(ctx.captured_queries) == 1  # the patient comes in the same (LEFT) join
    html = clinic_a.client(clinic_a.admin).get("/audit/", {"patient": patient_a.pk})
    assert html.content.decode().count("Erased record") == 4


def test_sign_ins_merge_into_the_clinic_pages_in_order(clinic_a, clinic_b, patient_a):
    actor = clinic_a.actor(clinic_a.nurse)
    base = timezone.now() - dt.timedelta(hours=1)
    made = []
    for i in range(14):
        # Instants out of id order (and some equal), as clocks and concurrent writers give
        # them (the trail is append-only: set when written).
        at = base + dt.timedelta(seconds=(i * 7) % 11)
        with mock.patch("django.utils.timezone.now", return_value=at):
            if i % 3 == 0:
                event = audit_record(action=AuditAction.LOGIN_SUCCESS, user=clinic_a.nurse)
            elif i % 5 == 0:
                event = audit_record(action=AuditAction.LOGIN_SUCCESS, user=clinic_b.nurse)
            else:
                event = audit_record(action=AuditAction.CHART_READ, actor=actor, patient=patient_a)
        made.append(event)
    expected = list(
        AuditEvent.objects.filter(pk__in=[e.pk for e in made])
        .exclude(actor=clinic_b.nurse)
        .order_by("-at", "-id")
        .values_list("pk", flat=True)
    )
    seen: list[int] = []
    before: Cursor | None = None
    for _ in range(10):
        page, before = audit_page(clinic=clinic_a.clinic, before=before, size=4)
        seen += [e.pk for e in page]
        if before is None:
            break
    assert len(seen) == len(set(seen))
    mine = [pk for pk in seen if pk in set(expected)]
    assert mine == expected
    staff = [clinic_a.nurse.pk, clinic_a.admin.pk]
    assert [e.pk for e in audit_page(clinic=clinic_a.clinic, staff_ids=staff, size=30)[0]] == [
        e.pk for e in audit_page(clinic=clinic_a.clinic, size=30)[0]
    ]


def test_filter_form_kept_per_input_shows_each_request_s_values(clinic_a):
    client = clinic_a.client(clinic_a.admin)
    first = client.get("/audit/", {"action": "patient"}).content.decode()
    again = client.get("/audit/", {"action": "chart.read"}).content.decode()
    bad = client.get("/audit/", {"patient": "abc", "action": "nope"})
    assert '<option value="patient" selected>' in first
    assert '<option value="chart.read" selected>' in again
    assert '<option value="patient" selected>' not in again
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.content.decode()
    plain = client.get("/audit/").content.decode()
    assert 'aria-invalid="true"' not in plain
    assert re.search(r'<option value="" selected>Any action</option>', plain)


def test_a_kind_means_its_own_actions_and_no_longer_kind(clinic_a, patient_a):
    """ "Anything about consent" is consent.* only: consent_template.* is a kind of its own (a
    prefix match gave both, and could not use the (action, at) index)."""
    actor = clinic_a.actor(clinic_a.admin)
    signed = audit_record(action=AuditAction.CONSENT_SIGN, actor=actor, patient=patient_a)
    published = audit_record(action=AuditAction.CONSENT_TEMPLATE_PUBLISH, actor=actor)
    read = audit_record(action=AuditAction.CHART_READ, actor=actor, patient=patient_a)

    def shown(action: str) -> set[int]:
        return {e.pk for e in audit_page(clinic=clinic_a.clinic, action=action, size=200)[0]}

    assert signed.pk in shown("consent") and published.pk not in shown("consent")
    assert shown("consent_template") >= {published.pk} and signed.pk not in shown(
        "consent_template"
    )
    assert shown("chart.read") >= {read.pk} and signed.pk not in shown("chart.read")
    assert shown("nothing") == set()
    assert clinic_a.client(clinic_a.admin).get("/audit/", {"action": "consent"}).status_code == 200
