from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.ops.health import run_checks
from anagen.scheduling import selectors as scheduling_selectors
from anagen.scheduling import services as scheduling_services
from anagen.web import worklist
from anagen.web.paging import CappedPaginator

# The worklist partial is polled this often (seconds) so the page stays live without a reload.
POLL_SECONDS = 20
# Rows a page of a worklist section's full list shows.
SECTION_PAGE_SIZE = 25


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    return _home(request)


@clinic_view(Perm.PATIENT_VIEW)
def _home(request: ClinicRequest) -> HttpResponse:
    """The day's worklist for the active clinic: each section as the actor's permissions allow."""
    wl = worklist.worklist_for(request.actor)
    return render(request, "web/home.html", {"wl": wl, "poll_seconds": POLL_SECONDS})


@clinic_view(Perm.PATIENT_VIEW)
def home_worklist(request: ClinicRequest) -> HttpResponse:
    """The worklist sections alone (htmx polls this); opened as a page, the whole home page."""
    wl = worklist.worklist_for(request.actor)
    partial = request.headers.get("HX-Request") == "true"
    template = "web/_worklist.html" if partial else "web/home.html"
    return render(request, template, {"wl": wl, "poll_seconds": POLL_SECONDS})


@require_POST
@clinic_view(Perm.CHECK_IN)
def home_check_in(request: ClinicRequest, appointment_id: int) -> HttpResponse:
    """Check a patient in from the worklist and come back to it."""
    appt = scheduling_selectors.appointment_for(request.actor, appointment_id)
    try:
        scheduling_services.appointment_check_in(actor=request.actor, appointment=appt)
    except PermissionDenied as exc:
        return render(request, "403.html", {"reason": str(exc)}, status=403)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        p = appt.patient
        messages.success(request, f"{p.given_name} {p.family_name} checked in.")
    if request.POST.get("back") == "arrivals":  # checked in from the full list of arrivals
        return redirect("home-arrivals")
    return redirect("home")


@clinic_view(Perm.PATIENT_VIEW)
def home_section(request: ClinicRequest, section: str) -> HttpResponse:
    """One worklist section in full: paginated and searchable, for every role that sees it."""
    spec = worklist.SECTIONS[section]
    if not request.actor.can(spec.perm):
        reason = f"Your role cannot {spec.perm.label}."
        return render(request, "403.html", {"reason": reason}, status=403)
    query = request.GET.get("q", "")[:100].strip()
    rows = worklist.section_list(request.actor, section, query=query)
    page = CappedPaginator(rows, SECTION_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": spec,
        "page": page,
        "rows": worklist.present(section, list(page.object_list)),
        "query": query,
        "today": request.actor.today(),
        "row_template": f"web/rows/{section}.html",
        "back": "arrivals" if section == "arrivals" else "",
    }
    return render(request, "web/section.html", context)


def section_paths() -> list[URLPattern]:
    """today/<section>/ for each worklist section, named as the section says (home-arrivals, …)."""
    return [
        path(
            f"today/{s.url_name.removeprefix('home-')}/",
            home_section,
            {"section": s.name},
            name=s.url_name,
        )
        for s in worklist.SECTIONS.values()
    ]


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "csrf_failure.html", status=403)


def health(request: HttpRequest) -> HttpResponse:
    """200 when the database answers and every migration is applied; 503 naming what failed."""
    checks = run_checks()
    healthy = all(c.ok for c in checks)
    body = {
        "status": "ok" if healthy else "failing",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        "failed": [c.name for c in checks if not c.ok],
    }
    response = JsonResponse(body, status=200 if healthy else 503)
    response["Cache-Control"] = "no-store"
    return response
