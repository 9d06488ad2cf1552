from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password

from anagen.accounts.models import Role, User


class StaffCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @ . + - _ only."},
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        widget=forms.PasswordInput, help_text="At least 12 characters; not a common password."
    )

    def clean_password(self) -> Any:
        password = self.cleaned_data["password"]
        candidate = User(
            username=self.data.get("username", ""),
            first_name=self.data.get("first_name", ""),
            last_name=self.data.get("last_name", ""),
            email=self.data.get("email", ""),
        )
        validate_password(password, candidate)
        return password


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


def _zone_choices() -> list[tuple[str, str]]:
    from zoneinfo import available_timezones

    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return [(z, z.replace("_", " ")) for z in zones]


class ClinicSettingsForm(forms.Form):
    """The clinic's own settings (the service validates again and audits what changed)."""

    name = forms.CharField(max_length=200, label="Clinic name")
    timezone = forms.ChoiceField(
        label="Time zone",
        help_text="Every time on pages, documents and reminders is shown in this zone.",
    )
    default_phone_region = forms.CharField(
        max_length=2,
        label="Country of phone numbers (two letters, e.g. GB)",
        help_text="Numbers typed without a country code are read as this country's.",
    )
    consent_drawn_signature = forms.BooleanField(
        required=False, label="Patients also draw their signature on consents (tablet)"
    )
    mfa_required_for_all = forms.BooleanField(
        required=False,
        label="Require two-factor sign-in of every member (nurses and front desk too)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _zone_choices()
        current = self.initial.get("timezone")
        if current and current not in dict(choices):
            choices.insert(0, (current, current.replace("_", " ")))
        self.fields["timezone"].choices = choices  # type: ignore[attr-defined]

    def clean_default_phone_region(self) -> str:
        import phonenumbers

        region = str(self.cleaned_data["default_phone_region"]).strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(
                "Give the country of the clinic's phone numbers as two letters, e.g. GB."
            )
        return region


class ClinicLogoForm(forms.Form):
    logo = forms.FileField(
        label="Logo (PNG or JPEG)",
        help_text="Shown on pages, the patient report and every printed document; "
        "stored at most 600 pixels wide or high.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
