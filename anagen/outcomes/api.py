"""Outcomes API: measurement sets (read, record), progress with change and MDC, analytics."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import JsonValue

from anagen.accounts.access import patient_for, patients_for
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import RESPONDER_RULES
from anagen.interop.auth import api_actor
from anagen.interop.examples import example
from anagen.interop.paging import PageQuery
from anagen.interop.render import FastJSONRenderer
from anagen.interop.schemas import BodyIn, QueryIn
from anagen.outcomes import selectors, services
from anagen.outcomes.imaging import max_bytes
from anagen.outcomes.models import MeasurementSet
from anagen.outcomes.selectors.measurements import MEASUREMENT_NUMBERS

router = Router()


def _rendered(request: HttpRequest, response: HttpResponse, data: Any) -> HttpResponse:
    """`data`, built in its response schema's exact shape and types, rendered as ninja renders
    a validated response: the API's renderer into the response ninja made for the request
    (its content type, status and headers such as `Link`). Validating every nested point or
    measurement cost more than reading them (issue 15); tests/test_fast_rendering.py checks the
    bytes against the validated path."""
    response.content = _RENDERER.render(request, data, response_status=response.status_code)
    return response


_RENDERER = FastJSONRenderer()  # the API's (anagen/api.py)


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


MethodCode = Literal["phototrichogram", "trichoscopy", "manual_count", "imported_device"]
Unit = Literal["cm2", "in2"]


class SiteIn(BodyIn):
    site_name: str = Field(min_length=1, max_length=80)
    location: Literal[
        "vertex",
        "crown",
        "midline",
        "frontal",
        "temporal_left",
        "temporal_right",
        "occipital",
        "other",
    ] = "vertex"
    hair_count: int | None = Field(None, ge=0)
    area: float | None = Field(None, gt=0)
    area_unit: Unit = "cm2"
    density: float | None = Field(None, ge=0)
    density_unit: Unit = "cm2"
    mean_diameter_um: float | None = None
    cumulative_thickness_mm_per_cm2: float | None = None
    terminal_pct: float | None = None
    anagen_pct: float | None = None


class SetIn(BodyIn):
    measured_on: dt.date
    visit_label: Literal["baseline", "follow_up"]
    method: MethodCode
    device: str = Field("", max_length=80)
    pull_test_pulled: int | None = Field(None, ge=0)
    pull_test_shed: int | None = Field(None, ge=0)
    wash_test_count: int | None = Field(None, ge=0)
    salt: float | None = None
    stage_scale: str = Field("", max_length=30)
    stage_value: str = Field("", max_length=20)
    global_photo_rating: int | None = None
    satisfaction: int | None = None
    notes: str = Field("", max_length=2000)
    sites: list[SiteIn] = Field(default_factory=list, max_length=20)


class MeasurementOut(Schema):
    site: str
    hair_count: int | None
    area_cm2: float | None
    density_per_cm2: float | None
    mean_diameter_um: float | None
    cumulative_thickness_mm_per_cm2: float | None
    terminal_pct: float | None
    vellus_pct: float | None
    anagen_pct: float | None
    telogen_pct: float | None


class SetOut(Schema):
    id: int
    measured_on: dt.date
    visit_label: str
    method: str
    device: str
    salt: float | None
    wash_test_count: int | None
    pull_test_pulled: int | None
    pull_test_shed: int | None
    global_photo_rating: int | None
    satisfaction: int | None
    measurements: list[MeasurementOut]


def _set_out(s: object) -> dict[str, object]:
    assert isinstance(s, MeasurementSet)
    num = _num
    return {
        "id": s.pk,
        "measured_on": s.measured_on,
        "visit_label": s.visit_label,
        "method": s.method,
        "device": s.device,
        "salt": num(s.salt),
        "wash_test_count": s.wash_test_count,
        "pull_test_pulled": s.pull_test_pulled,
        "pull_test_shed": s.pull_test_shed,
        "global_photo_rating": s.global_photo_rating,
        "satisfaction": s.satisfaction,
        "measurements": [
            {
                "site": m.site.name,
                "hair_count": m.hair_count,
                **{f: num(getattr(m, f)) for f in MEASUREMENT_NUMBERS},
            }
            for m in s.measurements.all()
        ],
    }


@router.get(
    "/patients/{patient_id}/measurements",
    response=list[SetOut],
    summary="A patient's measurement sets",
    description=(
        'Oldest first, one page at a time (`page`, `page_size`); a `Link: rel="next"` header '
        "names the next page while more follow."
    ),
)
def list_sets(
    request: HttpRequest, patient_id: int, response: HttpResponse, q: Query[PageQuery]
) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    # The page's sets and their measurements in one query, in SetOut's shape (issue 15).
    sets = selectors.measurement_sets_api(
        actor=actor, patient=patient, start=(q.page - 1) * q.page_size, limit=q.page_size + 1
    )
    _link_next(request, response, q, len(sets) > q.page_size)
    audit_record(action="measurement.read", actor=actor, patient=patient)
    return _rendered(request, response, sets[: q.page_size])


def _link_next(request: HttpRequest, response: HttpResponse, q: PageQuery, more: bool) -> None:
    """A page of a patient's history (oldest first, read one row past the page: no count, the
    same queries for any history) says `Link: rel="next"` when more follow."""
    if more:
        params = request.GET.copy()
        params["page"] = str(q.page + 1)
        response["Link"] = f'<{request.path}?{params.urlencode()}>; rel="next"'


@router.post(
    "/patients/{patient_id}/measurements",
    response={201: SetOut},
    summary="Record one visit's measurements (inch² converted to cm²)",
    description=(
        "Records one visit's measurements per site; areas and densities given per inch² are "
        "converted to cm². A measurement cannot be dated in the future."
    ),
)
def create_set(request: HttpRequest, patient_id: int, payload: SetIn) -> Status[object]:
    actor = api_actor(request, Perm.OUTCOMES_RECORD)
    patient = patient_for(actor, patient_id)
    data = payload.dict()
    sites = [services.SiteValues(**s) for s in data.pop("sites")]
    mset = services.measurement_set_record(
        actor=actor,
        patient=patient,
        values=services.VisitValues(**data, sites=sites),
    )
    return Status(
        201, _set_out(selectors.measurement_set_get(actor=actor, patient=patient, set_id=mset.pk))
    )


class PointOut(Schema):
    on: dt.date
    value: float
    visit_label: str
    change_absolute: float | None
    change_percent: float | None
    detectable: bool | None


class SeriesOut(Schema):
    key: str
    measure: str
    unit: str
    site: str | None
    method: str
    baseline: float | None
    baseline_repeats: int
    mdc95: float | None
    mdc_source: str
    points: list[PointOut]


@router.get(
    "/patients/{patient_id}/progress",
    response=list[SeriesOut],
    summary="Each measure over time with change from baseline and its MDC95",
    description=(
        "Each measure's series over time with the change from baseline and whether it exceeds "
        "the minimal detectable change (MDC95, with its source). The points are the baseline "
        "visits, each series's first visit and the latest 24 measured visits; baselines and "
        "changes are those of the whole history, which the measurement sets list pages through."
    ),
)
def progress(request: HttpRequest, patient_id: int, response: HttpResponse) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    num = _num
    data = [
        {
            "key": s.key,
            "measure": s.measure.id,
            "unit": s.measure.unit,
            "site": s.site.name if s.site else None,
            "method": s.method,
            "baseline": num(s.baseline),
            "baseline_repeats": int(s.baseline_repeats),
            "mdc95": num(s.mdc),
            "mdc_source": s.mdc_source,
            "points": [
                {
                    "on": p.on,
                    "value": float(p.value),
                    "visit_label": p.visit_label,
                    "change_absolute": num(p.change.absolute) if p.change else None,
                    "change_percent": num(p.change.percent) if p.change else None,
                    "detectable": None if p.detectable is None else bool(p.detectable),
                }
                for p in s.points
            ],
        }
        for s in selectors.series_for(actor=actor, patient=patient)
    ]
    return _rendered(request, response, data)


class AnalyticsQuery(QueryIn):
    measure: Literal["density_per_cm2", "hair_count", "mean_diameter_um", "salt"] = (
        "density_per_cm2"
    )
    group_by: (
        Literal[
            "diagnosis",
            "protocol",
            "spin",
            "activated",
            "dose_band",
            "fold_band",
            "sex",
            "age_band",
        ]
        | None
    ) = None
    rule: str = Field(
        "density_increase_15pct",
        json_schema_extra={"enum": list[JsonValue](sorted(RESPONDER_RULES))},
    )


class CohortOut(Schema):
    label: str
    # Issue 13: for a reader without per-patient rows (a clinic admin) a cohort under 5 patients
    # comes with ``suppressed`` true, ``n_text`` "fewer than 5" and every figure null; a
    # responder count under 5 (or its complement) is null with ``responders_note`` saying why.
    suppressed: bool = False
    n: int | None
    n_text: str
    mean_baseline: float | None
    mean_follow_up: float | None
    change_of_means_percent: float | None
    mean_change: float | None
    mean_change_ci: tuple[float | None, float | None]
    median_change: float | None
    mean_percent_change: float | None
    mean_percent_change_ci: tuple[float | None, float | None]
    responders: int | None
    responders_n: int | None
    responders_note: str = ""


@router.get(
    "/analytics",
    response=list[CohortOut],
    summary="Cohort outcomes (aggregates only)",
    description=(
        "Outcome change across the clinic's patients, grouped by an attribute, with confidence "
        "intervals and responder counts. Aggregates only: cohorts under 5 patients are "
        "suppressed for roles without per-patient access."
    ),
)
def analytics(request: HttpRequest, q: Query[AnalyticsQuery]) -> list[dict[str, object]]:
    actor = api_actor(request, Perm.ANALYTICS_VIEW)
    if q.rule not in RESPONDER_RULES:
        raise ValidationError({"query.rule": "Unknown responder rule."})
    outcomes = selectors.patient_outcomes(clinic=actor.clinic, measure=q.measure, rule=q.rule)
    shown = selectors.cohorts_disclosed(
        actor=actor, cohorts=selectors.cohorts(outcomes, q.group_by), n=len(outcomes)
    )
    out: list[dict[str, object]] = [
        {
            "label": c.label,
            "n": c.n,
            "n_text": str(c.n),
            "mean_baseline": c.mean_baseline,
            "mean_follow_up": c.mean_follow_up,
            "change_of_means_percent": c.change_of_means.percent,
            "mean_change": c.absolute.mean,
            "mean_change_ci": (c.absolute.low, c.absolute.high),
            "median_change": c.absolute_median.median,
            "mean_percent_change": c.percent.mean,
            "mean_percent_change_ci": (c.percent.low, c.percent.high),
            "responders": c.responders.k if c.responders else None,
            "responders_n": c.responders.n if c.responders else None,
            "responders_note": c.responders_note,
        }
        for c in shown.cohorts
    ]
    withheld = dict.fromkeys(
        (
            "n",
            "mean_baseline",
            "mean_follow_up",
            "change_of_means_percent",
            "mean_change",
            "median_change",
            "mean_percent_change",
            "responders",
            "responders_n",
        )
    )
    out.extend(
        {
            "label": label,
            "suppressed": True,
            "n_text": shown.fewer,
            **withheld,
            "mean_change_ci": (None, None),
            "mean_percent_change_ci": (None, None),
            "responders_note": shown.fewer,
        }
        for label in shown.suppressed
    )
    return out


# --- photos ------------------------------------------------------------------------------------

PhotoViewCode = Literal["frontal", "top", "vertex", "left", "right", "back", "close_up"]


class PhotoOut(Schema):
    id: int = Field(description="Photo id (for its file: .../photos/{photo_id}/file).")
    view: str = Field(description="The protocol's view (`vertex`, `frontal`, …).")
    width: int = Field(description="Width of the stored image, pixels.")
    height: int = Field(description="Height of the stored image, pixels.")
    sha256: str = Field(description="SHA-256 of the stored (re-encoded) image.")
    uploaded_at: dt.datetime = Field(description="When it was uploaded.")


class PhotoSetOut(Schema):
    id: int = Field(description="Photo set id (to upload its photos).")
    patient_id: int = Field(description="The patient photographed.")
    taken_on: dt.date = Field(description="Day the photos were taken.")
    notes: str = Field(description="Notes about the set (lighting, haircut…).")
    photos: list[PhotoOut] = Field(description="The set's photos, one per view.")

    @staticmethod
    def resolve_photos(obj: object) -> list[object]:
        return list(obj.photos.all())  # type: ignore[attr-defined]


class PhotoSetIn(BodyIn):
    taken_on: dt.date = Field(description="Day the photos are taken (not in the future).")
    notes: str = Field("", max_length=200, description="Notes about the set.")

    model_config = example(taken_on="2026-11-30", notes="Dry hair.")


@router.get(
    "/patients/{patient_id}/photo-sets",
    response=list[PhotoSetOut],
    summary="A patient's photo sets",
    description=(
        "Standardised photo sets, oldest first, with their photos' metadata, one page at a time "
        '(`page`, `page_size`; a `Link: rel="next"` header while more follow). The patient '
        "must have a valid consent to clinical photos (403 otherwise)."
    ),
)
def list_photo_sets(
    request: HttpRequest, patient_id: int, response: HttpResponse, q: Query[PageQuery]
) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    if not selectors.photo_consent_valid(patient):
        services.photo_consent_required(patient)  # raises the 403 it always raised
    # The page's sets and their photos in one query (issue 15).
    start = (q.page - 1) * q.page_size
    sets = selectors.photo_sets_slice(
        actor=actor, patient=patient, start=start, limit=q.page_size + 1
    )
    _link_next(request, response, q, len(sets) > q.page_size)
    return _rendered(request, response, [_photo_set_out(ps) for ps in sets[: q.page_size]])


def _photo_set_out(ps: Any) -> dict[str, object]:
    """A photo set in PhotoSetOut's shape and types."""
    return {
        "id": ps.pk,
        "patient_id": ps.patient_id,
        "taken_on": ps.taken_on,
        "notes": ps.notes,
        "photos": [
            {
                "id": ph.pk,
                "view": ph.view,
                "width": ph.width,
                "height": ph.height,
                "sha256": ph.sha256,
                "uploaded_at": ph.uploaded_at,
            }
            for ph in (ps.photos if isinstance(ps.photos, list) else ps.photos.all())
        ],
    }


@router.post(
    "/patients/{patient_id}/photo-sets",
    response={201: PhotoSetOut},
    summary="Start a photo set",
    description="A new set of standardised photos (needs the patient's photo consent).",
)
def create_photo_set(request: HttpRequest, patient_id: int, payload: PhotoSetIn) -> Status[object]:
    actor = api_actor(request, Perm.OUTCOMES_RECORD)
    patient = patient_for(actor, patient_id)
    photo_set = services.photo_set_create(
        actor=actor, patient=patient, taken_on=payload.taken_on, notes=payload.notes
    )
    return Status(201, photo_set)


_UPLOAD_DOC = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["view", "file"],
                    "properties": {
                        "view": {
                            "type": "string",
                            "enum": list(PhotoViewCode.__args__),  # type: ignore[attr-defined]
                            "description": "The protocol's view this photo shows.",
                        },
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": (
                                "The image (JPEG, PNG or WebP); re-encoded without its "
                                "metadata before it is stored."
                            ),
                        },
                    },
                },
                "example": {"view": "vertex", "file": "(JPEG bytes)"},
            }
        },
        "required": True,
    }
}


@router.post(
    "/patients/{patient_id}/photo-sets/{set_id}/photos",
    response={201: PhotoOut},
    summary="Upload a photo (multipart)",
    description=(
        "One photo of one view of the set, sent as multipart/form-data (`view`, `file`). The "
        "image is re-encoded without metadata; a view already in the set is refused (422)."
    ),
    openapi_extra=_UPLOAD_DOC,
)
def upload_photo(request: HttpRequest, patient_id: int, set_id: int) -> Status[object]:
    actor = api_actor(request, Perm.OUTCOMES_RECORD)
    patient = patient_for(actor, patient_id)
    photo_set = selectors.photo_set_get(actor=actor, patient=patient, set_id=set_id)
    if photo_set is None:
        raise Http404("No such photo set.")
    upload = request.FILES.get("file")
    view = request.POST.get("view", "")
    if upload is None:
        raise ValidationError({"file": "Send the image in the `file` part."})
    content = upload.read(max_bytes() + 1)
    photo = services.photo_add(actor=actor, photo_set=photo_set, view=view, content=content)
    return Status(201, photo)


class PhotoFileQuery(QueryIn):
    purpose: Literal["clinical", "teaching", "marketing"] = Field(
        "clinical", description="What the photo is used for: the matching consent is checked."
    )
    thumb: bool = Field(False, description="The thumbnail instead of the full image.")


_JPEG_DOC = {
    "responses": {
        200: {
            "description": "The image (JPEG, no metadata).",
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/patients/{patient_id}/photos/{photo_id}/file",
    response={200: None},
    summary="Download a photo",
    description=(
        "The stored image as JPEG, after the consent check for `purpose` (403 without it); "
        "every download is audited."
    ),
    openapi_extra=_JPEG_DOC,
)
def photo_file(
    request: HttpRequest, patient_id: int, photo_id: int, q: Query[PhotoFileQuery]
) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    photo = selectors.photo_get(actor=actor, patient=patient, photo_id=photo_id)
    if photo is None:
        raise Http404("No such photo.")
    try:
        data = services.photo_read(actor=actor, photo=photo, purpose=q.purpose, thumb=q.thumb)
    except services.PhotoFileMissing as exc:
        raise Http404(str(exc)) from None
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- report batches ----------------------------------------------------------------------------


class ReportJobIn(BodyIn):
    patient_ids: list[int] = Field(
        min_length=1, max_length=500, description="The patients to report on (1–500)."
    )

    model_config = example(patient_ids=[1, 2])


class ReportFileOut(Schema):
    id: int = Field(description="Report file id (to download it).")
    patient_id: int = Field(description="The patient the report is about.")
    sha256: str = Field(description="SHA-256 of the PDF.")
    created_at: dt.datetime = Field(description="When it was rendered.")


class ReportJobOut(Schema):
    id: int = Field(description="Report batch id.")
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="Where the batch is: queued, running, done or failed."
    )
    total: int = Field(description="Number of reports asked for.")
    done_count: int = Field(description="Number rendered so far.")
    error: str = Field(description="Why the batch failed (empty otherwise).")
    created_at: dt.datetime = Field(description="When it was asked for.")
    finished_at: dt.datetime | None = Field(description="When it finished (absent before).")
    files: list[ReportFileOut] = Field(description="The PDFs rendered so far.")

    @staticmethod
    def resolve_files(obj: object) -> list[object]:
        return list(selectors.report_files(obj))  # type: ignore[arg-type]


@router.post(
    "/reports",
    response={202: ReportJobOut},
    summary="Generate outcome reports (a job)",
    description=(
        "Queues PDF outcome reports for the given patients; the task worker renders them. "
        "Poll GET /reports/{job_id} until `status` is done, then download each file."
    ),
)
def create_report_job(request: HttpRequest, payload: ReportJobIn) -> Status[object]:
    actor = api_actor(request, Perm.OUTCOMES_RECORD)
    ids = set(payload.patient_ids)
    patients = list(patients_for(actor).filter(pk__in=ids))
    if len(patients) != len(ids):
        raise Http404("No such patient.")
    job = services.report_job_start(actor=actor, patients=patients)
    return Status(202, job)


@router.get(
    "/reports",
    response=list[ReportJobOut],
    summary="Recent report batches",
    description="The clinic's most recent report batches, newest first.",
)
def list_report_jobs(request: HttpRequest) -> list[object]:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    return list(selectors.report_jobs_for(actor))


@router.get(
    "/reports/{job_id}",
    response=ReportJobOut,
    summary="One report batch",
    description="The batch's progress and the PDFs rendered so far.",
)
def get_report_job(request: HttpRequest, job_id: int) -> object:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    job = selectors.report_job_get(actor=actor, job_id=job_id)
    if job is None:
        raise Http404("No such report batch.")
    return job


_PDF_DOC = {
    "responses": {
        200: {
            "description": "The report (PDF).",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/reports/{job_id}/files/{file_id}",
    response={200: None},
    summary="Download a report",
    description="One patient's outcome report as PDF; every download is audited.",
    openapi_extra=_PDF_DOC,
)
def report_file(request: HttpRequest, job_id: int, file_id: int) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    job = selectors.report_job_get(actor=actor, job_id=job_id)
    stored = selectors.report_file_get(actor=actor, job=job, file_id=file_id)
    if stored is None:
        raise Http404("No such report.")
    patient = patient_for(actor, stored.patient_id)
    data = services.report_file_read(actor=actor, stored=stored, patient=patient)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="outcomes-{patient.record_number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
