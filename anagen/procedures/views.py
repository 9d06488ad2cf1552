"""Session page (one section per phase, each a small POST), inventory, recall, formulations.

Views validate with a form, call one service, and redirect back to the section; a refusal
re-renders the page with the section's form bound and its errors (status 400).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.clinic_time import human_date
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.clinical import procedure_rules as rules
from anagen.procedures import forms as f
from anagen.procedures import selectors, services
from anagen.procedures.models import PHASES, TreatmentSession
from anagen.web.confirm import unconfirmed
from anagen.web.fast_widgets import FAST_RENDERER
from anagen.web.forms import attach_errors
from anagen.web.versions import refusal, with_version

# --- session page ------------------------------------------------------------------------------


def _session(request: ClinicRequest, patient_id: int, session_id: int) -> TreatmentSession:
    return selectors.session_record(request.actor, patient_id, session_id)


def _record(session: TreatmentSession) -> tuple[Any, ...]:
    """What the page's version covers (no lost updates, anagen.web.versions): the record as
    the API's ETag sees it, and the lots used."""
    return (*selectors.session_record_parts(session), session.lot_uses.all())


def _forms(
    request: ClinicRequest,
    session: TreatmentSession,
    rows: selectors.SessionRows,
    editing: dict[str, bool],
    events: list[Any],
) -> dict[str, Form]:
    """The forms the page draws, and only those (a signed record shows most sections as
    facts; a form the page does not show is not built)."""
    actor = request.actor
    prep, topical = rows.prep, rows.topical
    prp = session.is_prp
    forms: dict[str, Form] = {
        "details_form": f.DetailsForm(
            initial={
                "delivery_mode": session.delivery_mode,
                "rotor_radius_cm": session.rotor_radius_cm,
                "baseline_photos_taken": session.baseline_photos_taken,
                "aftercare_given": session.aftercare_given,
                "notes": session.notes,
            }
        ),
        "ae_form": _ae_form(session, rows, actor),
    }
    if prp and (editing["preparation"] or prep is not None):
        prep_form = f.PreparationForm(session=session, initial=f.PreparationForm.initial_from(prep))
        if not editing["preparation"]:
            _operator_as_read(prep_form, prep)
        forms["prep_form"] = prep_form
    if prp:
        forms["zones_form"] = f.ZonesForm(
            session=session, initial=f.ZonesForm.initial_from(rows.zones)
        )
    if prp and editing["delivery"]:
        forms["topical_form"] = f.TopicalForm(
            initial=(
                {
                    "device": topical.device,
                    "needle_depth_mm": topical.needle_depth_mm,
                    "passes": topical.passes,
                    "volume_ml": topical.volume_ml,
                }
                if topical is not None
                else {}
            )
        )
    if not prp and editing["delivery"]:
        forms["meso_form"] = f.MesoDeliveryForm(session=session)
    if editing["lots"]:
        forms["lot_form"] = f.LotUseForm(session=session)
    if events:  # the follow-up rows offer its outcome choices
        forms["follow_form"] = f.FollowUpForm(initial={"on": actor.today(), "outcome": "resolved"})
    return forms


def _operator_as_read(form: Form, prep: Any) -> None:
    """A preparation shown as facts names its operator, read with the record: the operator
    field's choices are that person (no query for the clinic's staff list)."""
    field: Any = form.fields["operator"]
    operator = prep.operator if prep is not None and prep.operator_id is not None else None
    field.choices = [
        ("", field.empty_label),
        *([(operator.pk, field.label_from_instance(operator))] if operator else []),
    ]


def _ae_form(session: TreatmentSession, rows: selectors.SessionRows, actor: Any) -> Form:
    """The adverse-event form; its lot choices (the lots used in this session) come from the
    lot uses already read, not from another query."""
    form = f.AdverseEventForm(
        session=session, initial={"onset_at": f.local_input(actor.now(), actor.tz)}
    )
    field: Any = form.fields["lot"]
    lots = sorted(
        {u.lot.pk: u.lot for u in rows.lot_uses}.values(), key=lambda x: (x.expires_on, x.pk)
    )
    field.choices = [("", field.empty_label), *((x.pk, field.label_from_instance(x)) for x in lots)]
    return form


def _fast(forms: dict[str, Form]) -> dict[str, Form]:
    """The page's forms draw their widgets with anagen.web.fast_widgets (Django's widget HTML,
    byte for byte, written without the template engine: most of the page's render time)."""
    for form in forms.values():
        form.renderer = FAST_RENDERER
    return forms


# The record's sections: a signed record reads as a document; "Amend" opens one section's form.
RECORD_SECTIONS = ("phases", "preparation", "details", "delivery", "lots")


def _page(
    request: ClinicRequest,
    session: TreatmentSession,
    bound: dict[str, Form] | None = None,
    status: int = 200,
    *,
    amend: str = "",
    saved_in: str = "",
    saved: str = "",
) -> HttpResponse:
    rows = selectors.session_rows(session)  # each part read once (sections, checklist, version)
    selectors.session_gate(session)  # screening, consent and appointment in one query
    prep = rows.prep
    amend = amend or str(request.GET.get("amend", ""))
    editing = {s: not session.is_signed or s == amend for s in RECORD_SECTIONS}
    events = selectors.session_adverse_events(session)
    context: dict[str, Any] = {
        "page_url": reverse("procedures-session-detail", args=[session.patient_id, session.pk]),
        "editing": editing,
        "saved_in": saved_in,
        "saved": saved,
        "session": session,
        "patient": session.patient,
        "prep": prep,
        "computed": prep.computed if prep else {},
        "flags": selectors.preparation_flags(session, prep),
        "phases": [
            {
                "field": fld,
                "label": label,
                "at": getattr(session, fld),
                "local": f.local_input(getattr(session, fld), request.actor.tz),
            }
            for fld, label in PHASES
            if fld in session.phase_fields
        ],
        "zones": rows.zones,
        "zone_defs": rules.zones_for(session.site),
        "totals": selectors.delivery_totals(session, rows=rows) if session.is_prp else None,
        "meso": rows.meso,
        "meso_totals": selectors.meso_totals(session, rows.meso) if not session.is_prp else [],
        "lot_uses": rows.lot_uses,
        "events": events,
        "checklist": selectors.session_checklist(session, rows),
        "amendments": selectors.amendments_of(session),
        "today": request.actor.today(),
        "kernel_version": (prep.kernel_version.partition("@")[2] or prep.kernel_version)
        if prep
        else "",
        **_fast(_forms(request, session, rows, editing, events)),
    }
    context["zone_volumes"] = {z.zone: z.volume_ml for z in context["zones"]}
    context["checklist_ok"] = all(i.ok for i in context["checklist"])
    # The same token as page_version(*_record(session)), from the rows just read.
    context["record_version"] = selectors.rows_version(session, rows)
    context.update(bound or {})
    return render(request, "procedures/session_detail.html", context, status=status)


@clinic_view(Perm.SESSION_PERFORM)
def session_start(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    form = f.StartForm(request.POST or None, initial={"procedure": request.GET.get("procedure")})
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_start(
                actor=request.actor, patient=patient, procedure=form.cleaned_data["procedure"]
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"{session.procedure_label} session started.")
            return redirect("procedures-session-detail", patient.pk, session.pk)
    return render(
        request,
        "procedures/session_start.html",
        {"patient": patient, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_from_appointment(request: ClinicRequest, appointment_id: int) -> HttpResponse:
    """Start the session of a checked-in appointment (or open it if it already exists)."""
    appt = selectors.appointment_for_session(request.actor, appointment_id)
    patient = patient_for(request.actor, appt.patient_id)
    existing = selectors.session_of_appointment(appt)
    if existing is not None:
        return redirect("procedures-session-detail", patient.pk, existing.pk)
    try:
        session = services.session_start(
            actor=request.actor, patient=patient, procedure=appt.procedure, appointment=appt
        )
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
        return redirect("patient-detail", patient.pk)
    return redirect("procedures-session-detail", patient.pk, session.pk)


@clinic_view(Perm.CLINICAL_VIEW)
def session_detail(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    """The record; its section forms post here (field `section`) so the address stays the
    page's own, with the section's anchor, whether the save succeeds or is refused."""
    if request.method == "POST":
        handler = _SECTION_POSTS.get(str(request.POST.get("section", "")))
        if handler is not None:
            return handler(request, patient_id, session_id)
    session = _session(request, patient_id, session_id)
    services.session_read(actor=request.actor, session=session)
    return _page(request, session)


def _section(
    request: ClinicRequest,
    patient_id: int,
    session_id: int,
    *,
    key: str,
    make: Callable[[TreatmentSession], Form],
    act: Callable[[TreatmentSession, Any], Any],
    anchor: str,
    done: str,
    retry: str = "",
) -> HttpResponse:
    session = _session(request, patient_id, session_id)
    form = make(session)
    htmx = request.headers.get("HX-Request") == "true"
    # No lost updates: a form loaded from an older version of the record saves nothing.
    stale = refusal(request, *_record(session), what="this session record", retry=retry)
    if form.is_valid() and not stale:
        try:
            act(session, form)
        except ValidationError as exc:
            attach_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            if htmx:  # the section is swapped in place and says it was saved
                session.refresh_from_db()
                page = _page(request, session, saved_in=anchor, saved=done)
                return with_version(page, *_record(session))
            messages.success(request, done)
            url = reverse("procedures-session-detail", args=[session.patient_id, session.pk])
            return redirect(f"{url}#{anchor}")
    if stale:  # said inside the section, above what was typed (kept in the bound form)
        form.add_error(None, stale)
    _focus_first_error(form)
    session.refresh_from_db()
    # htmx swaps only successful responses: the refused section comes back as a 200 fragment.
    status = 200 if htmx else (409 if stale else 400)
    return _page(request, session, {key: form}, status=status, amend=anchor)


def _focus_first_error(form: Form) -> None:
    """The first field with an error gets `autofocus`: the page opens on it."""
    for name in form.errors:
        if name in form.fields and not form.fields[name].widget.is_hidden:
            form.fields[name].widget.attrs["autofocus"] = True
            return


def _reason(form: Form) -> str:
    return str(form.cleaned_data.get("reason") or "")


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_phase(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="phase_form",
        make=lambda s: f.PhaseForm(request.POST),
        act=lambda s, form: services.session_phase_stamp(
            actor=request.actor,
            session=s,
            phase=form.cleaned_data["phase"],
            at=form.cleaned_data["at"],
            reason=_reason(form),
        ),
        anchor="phases",
        done="Time recorded.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_details(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="details_form",
        make=lambda s: f.DetailsForm(request.POST),
        act=lambda s, form: services.session_details_update(
            actor=request.actor, session=s, data=form.data_for_service(s), reason=_reason(form)
        ),
        anchor="details",
        done="Session details saved.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_preparation(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="prep_form",
        make=lambda s: f.PreparationForm(request.POST, session=s),
        act=lambda s, form: services.preparation_record(
            actor=request.actor, session=s, data=form.data_for_service(), reason=_reason(form)
        ),
        anchor="preparation",
        done="Preparation saved; labels computed.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_zones(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="zones_form",
        make=lambda s: f.ZonesForm(request.POST, session=s),
        act=lambda s, form: services.delivery_record(
            actor=request.actor, session=s, zones=form.zones_for_service(), reason=_reason(form)
        ),
        anchor="delivery",
        done="Delivery map saved.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_topical(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="topical_form",
        make=lambda s: f.TopicalForm(request.POST),
        act=lambda s, form: services.topical_record(
            actor=request.actor,
            session=s,
            data={k: v for k, v in form.cleaned_data.items() if k != "reason"},
            reason=_reason(form),
        ),
        anchor="delivery",
        done="Topical application saved.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_meso(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="meso_form",
        make=lambda s: f.MesoDeliveryForm(request.POST, session=s),
        act=lambda s, form: services.meso_delivery_add(
            actor=request.actor,
            session=s,
            formulation=form.cleaned_data["formulation"],
            data=form.data_for_service(),
            reason=_reason(form),
            allergy_override_reason=form.cleaned_data.get("allergy_override_reason") or "",
        ),
        anchor="delivery",
        done="Mesotherapy delivery recorded.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_meso_remove(
    request: ClinicRequest, patient_id: int, session_id: int, delivery_id: int
) -> HttpResponse:
    """Remove a delivery recorded by mistake (the page asks to confirm; refused once signed)."""
    session = _session(request, patient_id, session_id)
    delivery = selectors.meso_delivery_get(session, delivery_id)
    return _section(
        request,
        patient_id,
        session_id,
        key="meso_remove_form",
        make=lambda s: f.MesoRemoveForm(request.POST),
        act=lambda s, form: services.meso_delivery_remove(actor=request.actor, delivery=delivery),
        anchor="delivery",
        done="Mesotherapy delivery removed.",
        retry="remove it",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_lot(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="lot_form",
        make=lambda s: f.LotUseForm(request.POST, session=s),
        act=lambda s, form: services.lot_use_record(
            actor=request.actor,
            session=s,
            lot=form.cleaned_data["lot"],
            quantity=form.cleaned_data["quantity"],
            zone=form.cleaned_data.get("zone") or "",
            reason=_reason(form),
            allergy_override_reason=form.cleaned_data.get("allergy_override_reason") or "",
        ),
        anchor="lots",
        done="Lot recorded.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_adverse_event(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    return _section(
        request,
        patient_id,
        session_id,
        key="ae_form",
        make=lambda s: f.AdverseEventForm(request.POST, session=s),
        act=lambda s, form: services.adverse_event_record(
            actor=request.actor, session=s, data=form.cleaned_data
        ),
        anchor="adverse-events",
        done="Adverse event recorded.",
    )


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def adverse_event_follow_up(
    request: ClinicRequest, patient_id: int, session_id: int, event_id: int
) -> HttpResponse:
    session = _session(request, patient_id, session_id)
    event = selectors.adverse_event_get(session, event_id)
    return _section(
        request,
        patient_id,
        session_id,
        key="follow_form",
        make=lambda s: f.FollowUpForm(request.POST),
        act=lambda s, form: services.adverse_event_follow_up(
            actor=request.actor, event=event, data=form.cleaned_data
        ),
        anchor="adverse-events",
        done="Follow-up recorded.",
    )


class _Empty(Form):
    pass


@require_POST
@clinic_view(Perm.SESSION_PERFORM)
def session_close(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    session = _session(request, patient_id, session_id)
    asked = unconfirmed(
        request,
        question=f"Close the {session.procedure_label} session of {session.patient}?",
        detail="A closed session waits for the physician's signature.",
        action="Yes, close the session",
        back=reverse("procedures-session-detail", args=[session.patient_id, session.pk])
        + "#checklist",
        danger=False,
    )
    if asked is not None:
        return asked
    return _section(
        request,
        patient_id,
        session_id,
        key="sign_form",
        make=lambda s: _Empty(request.POST),
        act=lambda s, form: services.session_close(actor=request.actor, session=s),
        anchor="checklist",
        done="Session closed: ready for the physician to sign.",
        retry="close it",
    )


@require_POST
@clinic_view(Perm.SESSION_SIGN)
def session_sign(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    session = _session(request, patient_id, session_id)
    asked = unconfirmed(
        request,
        question=f"Sign and lock the {session.procedure_label} record of {session.patient}?",
        detail="Once signed, the record is locked: any change needs a reason and is kept as an "
        "amendment.",
        action="Yes, sign and lock",
        back=reverse("procedures-session-detail", args=[session.patient_id, session.pk])
        + "#checklist",
        danger=False,
    )
    if asked is not None:
        return asked
    return _section(
        request,
        patient_id,
        session_id,
        key="sign_form",
        make=lambda s: _Empty(request.POST),
        act=lambda s, form: services.session_sign(actor=request.actor, session=s),
        anchor="checklist",
        done="Session signed and locked.",
        retry="sign it",
    )


_SECTION_POSTS: dict[str, Callable[[ClinicRequest, int, int], HttpResponse]] = {
    "phase": session_phase,
    "details": session_details,
    "preparation": session_preparation,
    "zones": session_zones,
    "topical": session_topical,
    "meso": session_meso,
    "lot": session_lot,
    "adverse-event": session_adverse_event,
}


# --- inventory ---------------------------------------------------------------------------------


@clinic_view(Perm.INVENTORY_MANAGE)
def inventory(request: ClinicRequest) -> HttpResponse:
    product_form = f.ProductForm(prefix="product")
    lot_form = f.LotReceiveForm(prefix="lot", clinic_id=request.actor.clinic.pk)
    status = 200
    if request.method == "POST":
        status = 400
        if "product-name" in request.POST:
            product_form = f.ProductForm(request.POST, prefix="product")
            if product_form.is_valid():
                try:
                    p = services.product_create(actor=request.actor, data=product_form.cleaned_data)
                except ValidationError as exc:
                    attach_errors(product_form, exc)
                else:
                    messages.success(request, f"Product {p.name} added.")
                    return redirect("procedures-inventory")
        else:
            lot_form = f.LotReceiveForm(
                request.POST, prefix="lot", clinic_id=request.actor.clinic.pk
            )
            if lot_form.is_valid():
                data = dict(lot_form.cleaned_data)
                product = data.pop("product")
                try:
                    lot = services.lot_receive(actor=request.actor, product=product, data=data)
                except ValidationError as exc:
                    attach_errors(lot_form, exc)
                else:
                    messages.success(request, f"Lot {lot.lot_number} of {product.name} received.")
                    return redirect("procedures-inventory")
    today = request.actor.today()
    lots = list(selectors.lots_for(request.actor)[:500])
    return render(
        request,
        "procedures/inventory.html",
        {
            "products": selectors.products_for(request.actor),
            "lots": lots,
            "today": today,
            "product_form": product_form,
            "lot_form": lot_form,
        },
        status=status,
    )


@clinic_view(Perm.CLINICAL_VIEW)
def lot_recall(request: ClinicRequest, lot_id: int) -> HttpResponse:
    """Who was exposed to a lot; an inventory manager recalls it here (reason + confirmation)."""
    lot = selectors.lot_get(request.actor, lot_id)
    recall_form = None
    status = 200
    if not lot.is_recalled and request.actor.can(Perm.INVENTORY_MANAGE):
        recall_form = f.LotRecallForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if recall_form.is_valid():
                try:
                    services.lot_recall(
                        actor=request.actor, lot=lot, reason=recall_form.cleaned_data["reason"]
                    )
                except ValidationError as exc:
                    attach_errors(recall_form, exc)
                else:
                    messages.success(
                        request,
                        f"Lot {lot.lot_number} of {lot.product.name} recalled: "
                        "it can no longer be chosen for a session.",
                    )
                    return redirect("procedures-lot-recall", lot.pk)
            status = 400
    elif request.method == "POST":
        if lot.is_recalled:
            messages.info(request, f"Lot {lot.lot_number} was already recalled.")
            return redirect("procedures-lot-recall", lot.pk)
        request.actor.require(Perm.INVENTORY_MANAGE)
    exposures = selectors.recall_exposures(request.actor, lot)
    services.lot_recall_read(actor=request.actor, lot=lot, exposures=exposures)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="recall-lot-{lot.pk}.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "Record number",
                "Patient",
                "Phone",
                "Session",
                "Procedure",
                "Session date",
                "Quantity",
            ]
        )
        for e in exposures:
            writer.writerow(
                [
                    e.patient.record_number,
                    e.patient.full_name,
                    e.patient.phone,
                    e.session.pk,
                    e.session.procedure_label,
                    human_date(e.session.started_at, request.actor.tz),
                    e.quantity,
                ]
            )
        return response
    patients = len({e.patient.pk for e in exposures})
    return render(
        request,
        "procedures/lot_recall.html",
        {
            "lot": lot,
            "exposures": exposures,
            "patient_count": patients,
            "recall_form": recall_form,
        },
        status=status,
    )


@clinic_view(Perm.INVENTORY_MANAGE)
def formulations(request: ClinicRequest) -> HttpResponse:
    form = f.FormulationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            fm = services.formulation_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                vial=form.cleaned_data["vial"],
                indications=form.cleaned_data["indications"],
                ingredients=form.ingredients(),
                notes=form.cleaned_data["notes"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"Formulation {fm.name} added.")
            return redirect("procedures-formulations")
    return render(
        request,
        "procedures/formulations.html",
        {"formulations": selectors.formulations_for(request.actor), "form": form},
        status=400 if request.method == "POST" else 200,
    )
