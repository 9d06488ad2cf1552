"""Pages and API reads built in Python for speed (issue 15) give exactly what the slower,
generic path gave: the measurements, progress and photo rows against the template markup they
replaced, and the API lists against ninja's validated rendering of their response schemas."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.template import engines

from anagen.interop.render import FastJSONRenderer
from anagen.outcomes import selectors, services
from anagen.outcomes.api import PhotoSetOut, SeriesOut, SetOut
from anagen.outcomes.models import Measurement
from anagen.outcomes.tests.helpers import jpeg, photo_consent

pytestmark = pytest.mark.django_db
BASE = "/api/v1/outcomes"
D0 = dt.date(2025, 1, 6)

# The template loops the tags replaced, kept here as the reference markup.
MEASUREMENT_LOOP = (
    "{% for s in sets %}\n    {% for m in s.measurements.all %}\n    <tr>\n"
    "      <td>{{ s.measured_on|day }}</td><td>{{ s.get_visit_label_display }}</td>"
    "<td>{{ s.get_method_display }}{% if s.device %} ({{ s.device }}){% endif %}</td>\n"
    "      <td>{{ m.site.name }}</td>\n"
    '      <td>{% if m.hair_count is not None %}{{ m.hair_count }} in {{ m.area_cm2|floatformat:"-4" }}'
    ' cm²{% if m.area_unit_entered == "in2" %} <span class="muted">(entered '
    '{{ m.area_value_entered|floatformat:"-4" }} inch²)</span>{% endif %}{% else %}—{% endif %}'
    "</td>\n"
    '      <td>{{ m.density_per_cm2|default_if_none:"—" }}{% if m.density_unit_entered == "in2" %}'
    ' <span class="muted">(entered {{ m.density_value_entered }}/inch²)</span>{% endif %}</td>\n'
    '      <td>{{ m.mean_diameter_um|default_if_none:"—" }}</td>\n'
    "      <td>{% if m.terminal_pct is not None %}{{ m.terminal_pct }} / {{ m.vellus_pct }}"
    "{% else %}—{% endif %}</td>\n"
    "      <td>{% if m.anagen_pct is not None %}{{ m.anagen_pct }} / {{ m.telogen_pct }}"
    "{% else %}—{% endif %}</td>\n"
    "      <td>{% include VISIT %}</td>\n    </tr>\n    {% empty %}\n"
    "    <tr><td>{{ s.measured_on|day }}</td><td>{{ s.get_visit_label_display }}</td>"
    "<td>{{ s.get_method_display }}</td><td>—</td><td>—</td><td>—</td><td>—</td><td>—</td>"
    "<td>—</td><td>{% include VISIT %}</td></tr>\n    {% endfor %}\n  {% endfor %}\n  "
)
VISIT_MEASURES = (
    "{% if s.salt is not None %}SALT {{ s.salt }} {% endif %}{% if s.pull_test_pulled is not None %}"
    "Pull {{ s.pull_test_shed }}/{{ s.pull_test_pulled }} {% endif %}"
    "{% if s.wash_test_count is not None %}Wash {{ s.wash_test_count }} {% endif %}"
    "{% if s.stage_value %}{{ s.stage_display }} {% endif %}"
    '{% if s.global_photo_rating is not None %}Global {{ s.global_photo_rating|stringformat:"+d" }}'
    " {% endif %}{% if s.satisfaction is not None %}Satisfaction {{ s.satisfaction }}/5{% endif %}\n"
)
PROGRESS_LOOP = (
    "{% for p in s.points %}<tr>\n"
    "      <td>{{ p.on|day }}</td><td>{{ p.visit_label_display }}</td>"
    "<td>{{ p.value|measured:s.measure.decimals }}</td>\n"
    '      <td>{% if p.change %}{{ p.change.absolute|stringformat:"+.2f" }}{% endif %}</td>\n'
    '      <td>{% if p.change %}{{ p.change.percent|stringformat:"+.2f" }} %{% endif %}</td>\n'
    '      <td>{% if p.detectable is True %}<span class="detectable">beyond measurement error'
    '</span>{% elif p.detectable is False %}<span class="within">within measurement error'
    "</span>{% endif %}</td>\n    </tr>{% endfor %}"
)
SESSIONS_LOOP = (
    "{% for d in sessions %}<time>{{ d|day }}</time>{% if not forloop.last %}, {% endif %}"
    '{% empty %}<span class="muted">none recorded</span>{% endfor %}'
)
THUMBS_LOOP = (
    '{% for ph in ps.photos.all %}<li>{% if ph.file_missing %}<span class="photo-missing" '
    'role="img" aria-label="{{ ph.get_view_display }}: file missing">File missing</span>'
    "{% else %}<a href=\"{% url 'outcomes-photo-compare' patient.pk %}?view={{ ph.view }}\">"
    "<img src=\"{% url 'outcomes-photo-file' patient.pk ph.pk %}?thumb=1\" "
    'alt="{{ ph.get_view_display }} {{ ps.taken_on|day }}"></a>{% endif %}<br><small>'
    "{{ ph.get_view_display }}{% if ph.file_missing %} · the stored file is missing; take this "
    'view again in a new set{% endif %}</small></li>{% empty %}<li class="empty">No photos in '
    "this set.</li>{% endfor %}"
)


def _render(text: str, **context) -> str:
    engine = engines["django"]
    visit = engine.from_string(VISIT_MEASURES)
    return engine.from_string("{% load outcomes_tags %}" + text).render({"VISIT": visit, **context})


def _history(staff, patient) -> None:
    """Visits with every kind of value the tables show, inch² entries and an empty visit."""
    actor = staff.actor(staff.nurse)
    visits: list[dict[str, Any]] = [
        dict(visit_label="baseline", salt=42.5, pull_test_pulled=60, pull_test_shed=4),
        dict(visit_label="baseline", device="Folliscope <5> & co", wash_test_count=1234),
        dict(visit_label="follow_up", stage_scale="ludwig", stage_value="II", satisfaction=4),
        dict(visit_label="follow_up", global_photo_rating=-2, salt=30.0),
        dict(visit_label="follow_up", global_photo_rating=2, method="trichoscopy"),
    ]
    for n, visit in enumerate(visits):
        method = str(visit.pop("method", "phototrichogram"))
        sites = [
            services.SiteValues(
                site_name="Vertex <dot>",
                hair_count=100 + 7 * n if n % 2 == 0 else None,
                area=(0.155 if n == 2 else 1.0) if n % 2 == 0 else None,
                area_unit="in2" if n == 2 else "cm2",
                density=None if n % 2 == 0 else 774.0 + 3 * n,
                density_unit="in2" if n == 3 else "cm2",
                mean_diameter_um=60.0 + n,
                terminal_pct=70.0 + n if n != 3 else None,
                anagen_pct=80.0 - n if n != 1 else None,
            )
        ]
        if n >= 2:
            sites.append(
                services.SiteValues(site_name="Temple", location="temporal_left", density=90.0)
            )
        services.measurement_set_record(
            actor=actor,
            patient=patient,
            values=services.VisitValues(
                measured_on=D0 + dt.timedelta(days=90 * n), method=method, sites=sites, **visit
            ),
        )
    services.measurement_set_record(
        actor=actor,
        patient=patient,
        values=services.VisitValues(
            measured_on=D0 + dt.timedelta(days=600),
            visit_label="follow_up",
            method="manual_count",
            wash_test_count=80,
        ),
    )


def test_measurement_rows_are_the_template_s(clinic_a, patient_a):
    _history(clinic_a, patient_a)
    sets = list(
        selectors.measurement_sets(actor=clinic_a.actor(clinic_a.physician), patient=patient_a)
    )
    assert any(not list(s.measurements.all()) for s in sets)
    assert Measurement.objects.filter(area_unit_entered="in2").exists()
    built = _render("{% measurement_rows sets %}\n  ", sets=sets)
    assert built == _render(MEASUREMENT_LOOP, sets=sets)
    assert "Folliscope &lt;5&gt; &amp; co" in built and "Vertex &lt;dot&gt;" in built


def test_progress_rows_and_sessions_are_the_template_s(clinic_a, patient_a):
    _history(clinic_a, patient_a)
    series = selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a)
    assert any(p.detectable is not None for s in series for p in s.points)
    for s in series:
        assert _render("{% progress_rows s %}", s=s) == _render(PROGRESS_LOOP, s=s)
    for sessions in ([], [D0], [D0, D0 + dt.timedelta(days=30)]):
        assert _render("{% session_days sessions %}", sessions=sessions) == _render(
            SESSIONS_LOOP, sessions=sessions
        )


def test_photo_thumbs_are_the_template_s(clinic_a, patient_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo_consent(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.nurse)
    full = services.photo_set_create(actor=actor, patient=patient_a, taken_on=D0)
    for view in ("vertex", "frontal"):
        services.photo_add(actor=actor, photo_set=full, view=view, content=jpeg(exif=False))
    services.photo_set_create(actor=actor, patient=patient_a, taken_on=D0 + dt.timedelta(days=9))
    sets = list(selectors.photo_sets(actor=actor, patient=patient_a))
    first = next(iter(sets[0].photos.all()))
    first.file.storage.delete(str(first.thumbnail.name))  # a missing file is said so
    sets = list(selectors.photo_sets(actor=actor, patient=patient_a))
    for ps in sets:
        built = _render("{% photo_thumbs ps patient %}", ps=ps, patient=patient_a)
        assert built == _render(THUMBS_LOOP, ps=ps, patient=patient_a)
    assert "File missing" in _render("{% photo_thumbs ps patient %}", ps=sets[0], patient=patient_a)


def _rendered(items: list[Any]) -> bytes:
    from anagen.api import api

    assert type(api.renderer) is FastJSONRenderer  # the one the outcomes lists render with
    rendered = api.renderer.render(None, items, response_status=200)  # type: ignore[arg-type]
    return rendered.encode() if isinstance(rendered, str) else rendered


def _validated(schema, body: bytes) -> bytes:
    """The bytes ninja renders for `body`'s items after validating them through `schema`."""
    return _rendered([schema.model_validate(item).model_dump() for item in json.loads(body)])


def test_api_lists_are_what_the_validated_schemas_render(clinic_a, patient_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _history(clinic_a, patient_a)
    photo_consent(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.nurse)
    for n in range(3):
        ps = services.photo_set_create(
            actor=actor, patient=patient_a, taken_on=D0 + dt.timedelta(days=n), notes=f"Set {n}"
        )
        services.photo_add(actor=actor, photo_set=ps, view="vertex", content=jpeg(exif=False))
    client = clinic_a.client(clinic_a.physician)
    for path, schema in (
        ("measurements", SetOut),
        ("measurements?page=2&page_size=2", SetOut),
        ("progress", SeriesOut),
    ):
        response = client.get(f"{BASE}/patients/{patient_a.pk}/{path}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert json.loads(response.content), path
        # Parsed and re-validated items give the same bytes: the hand-built items carried
        # every field, in the schema's order, with the schema's types.
        assert response.content == _validated(schema, response.content), path
    # Photo sets: as ninja validated the model objects themselves (their photos resolved).
    photo_sets = selectors.photo_sets(actor=actor, patient=patient_a)
    for path, shown in (("photo-sets", photo_sets), ("photo-sets?page_size=2", photo_sets[:2])):
        response = client.get(f"{BASE}/patients/{patient_a.pk}/{path}")
        assert response.status_code == 200, response.content
        expected = _rendered([PhotoSetOut.model_validate(ps).model_dump() for ps in shown])
        assert response.content == expected, path
    paged = client.get(f"{BASE}/patients/{patient_a.pk}/photo-sets?page_size=2")
    assert 'rel="next"' in paged["Link"]
