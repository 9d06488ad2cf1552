"""Users, organisations, clinics and the memberships that give a user a role in a clinic."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A person who signs in. What they may see comes from their memberships, not from here."""

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.name


class Clinic(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="clinics")
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    # Record numbers are prefixed per clinic so a printed number says where it belongs.
    record_prefix = models.CharField(max_length=8)
    timezone = models.CharField(max_length=64, default="Europe/London")
    currency = models.CharField(max_length=3, default="GBP")
    default_phone_region = models.CharField(max_length=2, default="GB")
    # Public holidays close the clinic: ISO 3166 country and the holidays library's region
    # (e.g. GB + ENG for England; blank region = the country's nationwide holidays only;
    # blank country = no public holidays applied).
    holiday_country = models.CharField(max_length=2, default="", blank=True)
    holiday_region = models.CharField(max_length=10, default="", blank=True)
    # Last record number issued; bumped atomically with an UPDATE … SET n = n + 1.
    record_seq = models.PositiveIntegerField(default=0, editable=False)
    # Two-factor sign-in is always required for the roles in permissions.MFA_REQUIRED_ROLES;
    # a clinic may require it of every member (nurses and front desk too).
    mfa_required_for_all = models.BooleanField(
        default=False, help_text="Every member of this clinic must use two-factor sign-in."
    )
    # Consents are signed on a tablet: the patient also draws a signature (the typed name stays).
    consent_drawn_signature = models.BooleanField(
        default=False, help_text="Patients also draw their signature on consents (tablet)."
    )
    # The clinic's logo on pages, reports and printed documents: a PNG we re-encoded ourselves
    # (anagen/accounts/logo.py), named by its content hash; blank = no logo.
    logo = models.FileField(upload_to="clinic-logos/", max_length=200, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def logo_version(self) -> str:
        """Changes with the logo (its stored name carries the content hash): cache busting."""
        name = self.logo.name or ""
        return name.rsplit("-", 1)[-1].split(".", 1)[0] if name else ""


class Role(models.TextChoices):
    PHYSICIAN = "physician", "Physician"
    NURSE = "nurse", "Nurse"
    FRONT_DESK = "front_desk", "Front desk"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="one_membership_per_clinic")
        ]
        ordering = ["clinic__name"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"


TOKEN_DEFAULT_DAYS = 90
TOKEN_MAX_DAYS = 365


def default_token_expiry() -> datetime:
    """When a token made without a chosen lifetime stops working (also used for old tokens)."""
    return timezone.now() + timedelta(days=TOKEN_DEFAULT_DAYS)


class ApiToken(models.Model):
    """A bearer token for an integration, acting as one user in one clinic.

    Only a SHA-256 of the token is stored; the token itself is shown once when created.
    """

    PREFIX = "ang_"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A token stops working at this instant (chosen at creation, at most TOKEN_MAX_DAYS).
    expires_at = models.DateTimeField(default=default_token_expiry)

    def __str__(self) -> str:
        return f"{self.name} ({self.membership})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @staticmethod
    def hash_key(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def new_raw_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class PasswordResetAttempt(models.Model):
    """One request for a password-reset email, kept for the rate limits (per address, per
    client address) and deleted once older than their window. The email address is kept only
    as a SHA-256 digest."""

    email_digest = models.CharField(max_length=64, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Password reset request at {self.at:%Y-%m-%d %H:%M}"

    @staticmethod
    def digest(email: str) -> str:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()
