from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from anagen.accounts import services
from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.forms import RoleChangeForm, StaffCreateForm
from anagen.accounts.middleware import SESSION_KEY
from anagen.accounts.models import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS, Membership
from anagen.accounts.permissions import Perm
from anagen.accounts.selectors import api_token_of, api_tokens_of, memberships_of, staff_of
from anagen.web.forms import attach_errors


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@require_POST
@clinic_view()
def clinic_switch(request: ClinicRequest) -> HttpResponse:
    clinic_id = request.POST.get("clinic", "")
    if not clinic_id.isdigit():
        raise Http404("No such clinic.")
    membership = memberships_of(user=request.actor.user).filter(clinic_id=int(clinic_id)).first()
    if membership is None:
        raise Http404("No such clinic.")
    request.session[SESSION_KEY] = membership.clinic_id
    messages.success(request, f"Now working in {membership.clinic.name}.")
    return redirect("patient-list")


def _membership_in_clinic(request: ClinicRequest, membership_id: int) -> Membership:
    membership = staff_of(clinic=request.actor.clinic).filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such staff member.")
    return membership


def _role_form(membership: Membership) -> RoleChangeForm:
    form = RoleChangeForm(initial={"role": membership.role})
    form.fields["role"].widget.attrs["id"] = f"role-{membership.pk}"
    return form


@clinic_view(Perm.STAFF_MANAGE)
def staff_list(request: ClinicRequest) -> HttpResponse:
    form = StaffCreateForm()
    if request.method == "POST":
        form = StaffCreateForm(request.POST)
        if form.is_valid():
            try:
                membership = services.staff_create(actor=request.actor, **form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(
                    request, f"{membership.user} added as {membership.get_role_display()}."
                )
                return redirect("staff-list")
    # Each row's role picker is a form of its own, showing that member's current role.
    staff = [(m, _role_form(m)) for m in staff_of(clinic=request.actor.clinic)]
    return render(
        request,
        "accounts/staff_list.html",
        {"form": form, "staff": staff},
        status=400 if form.errors else 200,
    )


@require_POST
@clinic_view(Perm.STAFF_MANAGE)
def staff_role(request: ClinicRequest, membership_id: int) -> HttpResponse:
    membership = _membership_in_clinic(request, membership_id)
    form = RoleChangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("staff-list")
    try:
        services.membership_change_role(
            actor=request.actor, membership=membership, role=form.cleaned_data["role"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
    return redirect("staff-list")


@require_POST
@clinic_view(Perm.STAFF_MANAGE)
def staff_active(request: ClinicRequest, membership_id: int) -> HttpResponse:
    membership = _membership_in_clinic(request, membership_id)
    active = request.POST.get("active") == "1"
    try:
        services.membership_set_active(actor=request.actor, membership=membership, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"{membership.user} {'reactivated' if active else 'deactivated'}."
        )
    return redirect("staff-list")


@clinic_view()
def api_tokens(request: ClinicRequest) -> HttpResponse:
    """Your own bearer tokens for the active clinic: create (shown once) and revoke."""
    membership = request.actor.membership
    new_key = ""
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token_id = _int(request.POST.get("token"))
            token = (
                api_token_of(membership=membership, token_id=token_id)
                if token_id is not None
                else None
            )
            if token is None:
                raise Http404("No such token.")
            services.api_token_revoke(token=token)
            messages.success(request, f"Token “{token.name}” revoked.")
            return redirect("api-tokens")
        name = request.POST.get("name", "").strip()
        days_text = request.POST.get("days", "")
        if not name or len(name) > 100:
            error = "Give the token a name of 1 to 100 characters, e.g. “Booking website”."
        else:
            try:
                days = services.api_token_days(days_text)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                _, new_key = services.api_token_create(membership=membership, name=name, days=days)
    tokens = api_tokens_of(membership=membership)
    return render(
        request,
        "accounts/api_tokens.html",
        {
            "tokens": tokens,
            "new_key": new_key,
            "error": error,
            "default_days": TOKEN_DEFAULT_DAYS,
            "max_days": TOKEN_MAX_DAYS,
        },
        status=400 if error else 200,
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None
