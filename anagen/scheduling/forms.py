"""Page forms: they check shape; the services check the rules."""

from __future__ import annotations

from django import forms

from anagen.clinical import PROCEDURES, list_protocols


def protocol_choices() -> list[tuple[str, str]]:
    return [(p["id"], p["name"]) for p in list_protocols()]


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class PlanChooseForm(forms.Form):
    protocol_id = forms.ChoiceField(label="Protocol", choices=protocol_choices)
    start_on = forms.DateField(label="First session on or after", widget=DateInput)


class MoveForm(forms.Form):
    SCOPES = [("this", "This session only"), ("following", "This and the following sessions")]
    date = forms.DateField(label="New date", widget=DateInput)
    time = forms.TimeField(label="New time", widget=TimeInput)
    scope = forms.ChoiceField(
        label="Move", choices=SCOPES, initial="this", widget=forms.RadioSelect
    )
    confirm_outside_window = forms.BooleanField(
        label="Move it anyway, outside the protocol window", required=False
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason for cancelling", max_length=500)


class AppointmentBookForm(forms.Form):
    KINDS = [("consultation", "Consultation"), ("maintenance", "Maintenance session")]
    kind = forms.ChoiceField(label="Kind", choices=KINDS)
    procedure = forms.ChoiceField(
        label="Procedure (maintenance)",
        choices=[("", "—")] + [(k, v["label"]) for k, v in PROCEDURES.items()],
        required=False,
    )
    date = forms.DateField(label="Date", widget=DateInput)
    time = forms.TimeField(label="Time", widget=TimeInput)
    practitioner = forms.TypedChoiceField(label="Practitioner", coerce=int)
    room = forms.TypedChoiceField(label="Room", coerce=int)
    centrifuge = forms.TypedChoiceField(
        label="Centrifuge (PRP)", coerce=int, required=False, empty_value=None
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ResourceForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=[("practitioner", "Practitioner"), ("room", "Room"), ("centrifuge", "Centrifuge")],
    )
    name = forms.CharField(label="Name", max_length=100, required=False)
    membership = forms.TypedChoiceField(
        label="Staff member (practitioners)", coerce=int, required=False, empty_value=None
    )
    licensed_procedures = forms.MultipleChoiceField(
        label="Licensed for (practitioners)",
        choices=[(k, v["label"]) for k, v in PROCEDURES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    rotor_radius_cm = forms.DecimalField(
        label="Rotor radius, cm (centrifuges)",
        required=False,
        min_value=0,
        max_digits=5,
        decimal_places=2,
    )


class HoursForm(forms.Form):
    """One text line per interval, e.g. ``Mon 09:00-17:30`` (keyboard-friendly, no widgets)."""

    hours = forms.CharField(
        label="Working hours",
        widget=forms.Textarea(attrs={"rows": 7}),
        required=False,
        help_text="One interval per line, e.g. “Mon 09:00-17:30”. Clinic-local time.",
    )


class ClosureForm(forms.Form):
    starts_on = forms.DateField(label="First day closed", widget=DateInput)
    ends_on = forms.DateField(label="Last day closed", widget=DateInput)
    reason = forms.CharField(label="Reason", max_length=200)


class LeaveForm(forms.Form):
    membership = forms.TypedChoiceField(label="Staff member", coerce=int)
    starts_on = forms.DateField(label="First day away", widget=DateInput)
    ends_on = forms.DateField(label="Last day away", widget=DateInput)
    reason = forms.CharField(label="Reason", max_length=200)


class HolidayRegionForm(forms.Form):
    country = forms.CharField(label="Country (two letters, e.g. GB)", max_length=2, required=False)
    region = forms.CharField(
        label="Region (e.g. ENG for England, SCT for Scotland)", max_length=10, required=False
    )
