from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from anagen.accounts import mfa, selectors, services
from anagen.accounts.access import ClinicRequest
from anagen.accounts.client_ip import client_ip
from anagen.accounts.decorators import clinic_view
from anagen.accounts.forms import (
    ClinicLogoForm,
    ClinicSettingsForm,
    RoleChangeForm,
    StaffCreateForm,
)
from anagen.accounts.logo import MAX_LOGO_BYTES, logo_bytes
from anagen.accounts.middleware import MFA_ENROL, MFA_VERIFY, SESSION_KEY
from anagen.accounts.models import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS, Clinic, Membership
from anagen.accounts.permissions import Perm
from anagen.accounts.selectors import api_token_of, api_tokens_of, memberships_of, staff_of
from anagen.web.confirm import unconfirmed
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
        {"form": form, "staff": staff, "clinic": request.actor.clinic},
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
    if not active:
        asked = unconfirmed(
            request,
            question=f"Deactivate {membership.user}?",
            detail="They can no longer sign in for this clinic and their API tokens stop working.",
            action="Yes, deactivate",
            back=reverse("staff-list"),
        )
        if asked is not None:
            return asked
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
            asked = unconfirmed(
                request,
                question=f"Revoke the API token “{token.name}”?",
                detail="Programs using it are refused from now on.",
                action="Yes, revoke",
                back=reverse("api-tokens"),
            )
            if asked is not None:
                return asked
            services.api_token_revoke(token=token)
            messages.success(request, f"Token “{token.name}” revoked.")
            return redirect("api-tokens")
        name = request.POST.get("name", "").strip()
        days_text = request.POST.get("days", "")
        if not mfa.session_verified(request):
            # A token outlives the session: only a session that passed two-factor sign-in
            # may mint one.
            error = "Creating a token needs two-factor sign-in: set it up under Account first."
        elif not name or len(name) > 100:
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
            "verified": mfa.session_verified(request),
        },
        status=400 if error else 200,
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


@require_POST
@clinic_view(Perm.STAFF_MANAGE)
def staff_mfa_reset(request: ClinicRequest, membership_id: int) -> HttpResponse:
    """A lost phone: clear the member's two-factor set-up; they enrol again at next sign-in."""
    membership = _membership_in_clinic(request, membership_id)
    services.mfa_reset(actor=request.actor, membership=membership)
    messages.success(
        request, f"Two-factor sign-in of {membership.user} reset: they set it up at next sign-in."
    )
    return redirect("staff-list")


@require_POST
@clinic_view(Perm.STAFF_MANAGE)
def clinic_mfa_policy(request: ClinicRequest) -> HttpResponse:
    required = request.POST.get("mfa_required_for_all") == "1"
    services.clinic_set_mfa_required(actor=request.actor, required=required)
    messages.success(
        request,
        "Every member now signs in with two-factor."
        if required
        else "Two-factor sign-in is required of physicians and clinic admins only.",
    )
    return redirect("staff-list")


# --- The clinic's settings and logo -------------------------------------------------------------


def _settings_initial(clinic: Clinic) -> dict[str, object]:
    return {f: getattr(clinic, f) for f in services.CLINIC_SETTING_FIELDS}


@clinic_view(Perm.CLINIC_SETTINGS)
def clinic_settings(request: ClinicRequest) -> HttpResponse:
    """The clinic admin's settings: name, time zone, phone country, drawn signatures, two-factor
    rule, and the logo. Errors show beside their fields; every change is audited."""
    actor = request.actor
    action = request.POST.get("action", "")
    form = ClinicSettingsForm(
        request.POST if action == "settings" else None, initial=_settings_initial(actor.clinic)
    )
    logo_form = ClinicLogoForm(
        request.POST if action == "logo" else None,
        request.FILES if action == "logo" else None,
    )
    if request.method == "POST":
        if action == "settings" and form.is_valid():
            try:
                services.clinic_settings_update(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, "Clinic settings saved.")
                return redirect("clinic-settings")
        elif action == "logo" and logo_form.is_valid():
            upload = logo_form.cleaned_data["logo"]
            try:
                # At most one byte more than a logo may have: the service refuses a bigger one.
                content = upload.read(MAX_LOGO_BYTES + 1)
                services.clinic_logo_set(actor=actor, content=content)
            except ValidationError as exc:
                attach_errors(logo_form, exc)
            else:
                messages.success(request, "Logo saved.")
                return redirect("clinic-settings")
        elif action == "logo-remove":
            asked = unconfirmed(
                request,
                question="Remove the clinic's logo?",
                detail="Pages and printed documents show the clinic's name only.",
                action="Yes, remove",
                back=reverse("clinic-settings"),
            )
            if asked is not None:
                return asked
            services.clinic_logo_set(actor=actor, content=None)
            messages.success(request, "Logo removed.")
            return redirect("clinic-settings")
    failed = request.method == "POST"
    return render(
        request,
        "accounts/clinic_settings.html",
        {"form": form, "logo_form": logo_form, "clinic": actor.clinic},
        status=400 if failed else 200,
    )


@clinic_view()
def clinic_logo(request: ClinicRequest) -> HttpResponse:
    """The active clinic's logo (a PNG we encoded), for the page header; 404 without one."""
    content = logo_bytes(request.actor.clinic)
    if content is None:
        raise Http404("This clinic has no logo.")
    response = HttpResponse(content, content_type="image/png")
    # The address carries the logo's hash (?v=…): a new logo is a new address.
    response["Cache-Control"] = "private, max-age=604800"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Two-factor sign-in and passwords -----------------------------------------------------------


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page about the signed-in person's own account (no clinic needed)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _clinic_of(request: HttpRequest) -> Clinic | None:
    actor = getattr(request, "actor", None)
    return actor.clinic if actor is not None else None


@signed_in
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """The second sign-in step: a code from the authenticator app, or a recovery code."""
    next_url = _next_url(request)
    if getattr(request, "mfa_pending", None) != MFA_VERIFY:
        return redirect(next_url)
    error = ""
    if request.method == "POST":
        check = services.mfa_verify(
            user=request.user,  # type: ignore[arg-type]
            code=request.POST.get("code", "")[:64],
            ip_address=client_ip(request),
        )
        if check.device is not None:
            request.session.cycle_key()  # a new session id for the now fully signed-in session
            mfa.mark_verified(request, check.device)
            if check.recovery_code_used:
                messages.warning(
                    request,
                    f"Recovery code accepted; {check.recovery_codes_left} left. "
                    "If your phone is lost, set up the app again under Account.",
                )
            return redirect(next_url)
        if check.wait_seconds:
            error = f"Too many wrong codes: wait {check.wait_seconds} s and try again."
        else:
            error = "That code is not right (or was already used). Type the current code."
    return render(
        request,
        "registration/mfa_verify.html",
        {"error": error, "next": next_url},
        status=400 if error else 200,
    )


def _setup_key(request: HttpRequest) -> str:
    key = request.session.get(mfa.SETUP_KEY, "")
    if not (isinstance(key, str) and len(key) == 40 and all(c in "0123456789abcdef" for c in key)):
        key = mfa.new_secret()
        request.session[mfa.SETUP_KEY] = key
    return key


@signed_in
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) the authenticator app: QR code and secret, confirmed by a first code.

    Nothing is stored until the first code matches; then fresh recovery codes are shown once.
    """
    pending = getattr(request, "mfa_pending", None)
    if pending == MFA_VERIFY:
        # Replacing an app needs the current one first: sign-in is not finished.
        return redirect(f"{reverse('mfa-verify')}?next={reverse('mfa-setup')}")
    user = request.user
    next_url = _next_url(request)
    key = _setup_key(request)
    error = ""
    if request.method == "POST":
        result = services.mfa_enrol(
            user=user,  # type: ignore[arg-type]
            key_hex=key,
            code=request.POST.get("code", "")[:64],
            clinic=_clinic_of(request),
            ip_address=client_ip(request),
        )
        if result is not None:
            device, codes = result
            del request.session[mfa.SETUP_KEY]
            request.session.cycle_key()
            mfa.mark_verified(request, device)
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": next_url, "just_enrolled": True},
            )
        error = "That code does not match. Type the 6-digit code the app shows now."
    return render(
        request,
        "accounts/mfa_setup.html",
        {
            "qr": mfa.qr_svg(mfa.otpauth_url(key, user.get_username())),
            "secret": mfa.secret_text(key),
            "error": error,
            "next": next_url,
            "required": pending == MFA_ENROL,
            "replacing": selectors.mfa_enrolled(user=user),  # type: ignore[arg-type]
        },
        status=400 if error else 200,
    )


@signed_in
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """How many recovery codes are left; new ones (shown once) replace them all."""
    user = request.user
    if not selectors.mfa_enrolled(user=user):  # type: ignore[arg-type]
        return redirect("mfa-setup")
    codes: list[str] = []
    if request.method == "POST":
        codes = services.recovery_codes_regenerate(
            user=user,  # type: ignore[arg-type]
            clinic=_clinic_of(request),
            ip_address=client_ip(request),
        )
    return render(
        request,
        "accounts/recovery_codes.html",
        {
            "codes": codes,
            "left": selectors.recovery_codes_left(user=user),  # type: ignore[arg-type]
            "next": reverse("account-security"),
            "just_enrolled": False,
        },
    )


@signed_in
def account_security(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/security.html",
        {
            "device": selectors.totp_device_of(user=user),  # type: ignore[arg-type]
            "codes_left": selectors.recovery_codes_left(user=user),  # type: ignore[arg-type]
            "required": selectors.mfa_required_for(user=user),  # type: ignore[arg-type]
        },
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    """Signed in (and past two-factor): the old password, then a new one the validators accept."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("account-security")

    def form_valid(self, form: Any) -> HttpResponse:
        user = services.password_set(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            ip_address=client_ip(self.request),
        )
        # This session stays signed in (and verified); every other session of the user ends.
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Password changed.")
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer for every address: no way to learn who has an account."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password-reset-sent")

    def form_valid(self, form: Any) -> HttpResponse:
        # Rate-limited per address and per client address; over the limit no email goes out,
        # and the answer is the same as when one does.
        allowed = services.password_reset_allowed(
            email=form.cleaned_data["email"], ip_address=client_ip(self.request)
        )
        if not allowed:
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")

    def dispatch(self, *args: Any, **kwargs: Any) -> HttpResponseBase:
        kwargs["token"] = kwargs.pop("reset_key", "")
        return super().dispatch(*args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        services.password_set(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            reset=True,
            ip_address=client_ip(self.request),
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
