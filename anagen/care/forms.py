"""Page forms. They check shapes; the services check clinical sense (scales, rules, roles)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from anagen.care.models import ConsentKind, PullTest
from anagen.care.services import AssessmentData
from anagen.clinical import DIAGNOSES, PROCEDURES, SCALES

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _scale_choices() -> list[Any]:
    choices: list[Any] = [("", "Not graded")]
    for scale_id, definition in SCALES.items():
        choices.append(
            (
                definition.label,
                [
                    (f"{scale_id}|{code}", f"{definition.label}: {label}")
                    for code, label in zip(definition.codes, definition.labels, strict=True)
                ],
            )
        )
    choices.append(("salt|", "SALT (computed from the four areas below)"))
    return choices


class AssessmentForm(forms.Form):
    visit_on = forms.DateField(label="Visit date", widget=DATE)
    diagnosis_code = forms.ChoiceField(
        label="Diagnosis",
        choices=[("", "Choose…")] + [(k, v["label"]) for k, v in DIAGNOSES.items()],
    )
    scale = forms.ChoiceField(
        label="Severity",
        choices=_scale_choices,
        required=False,
        help_text="A scale for the diagnosis.",
    )
    salt_vertex = forms.DecimalField(
        label="SALT vertex % loss", min_value=0, max_value=100, decimal_places=1, required=False
    )
    salt_posterior = forms.DecimalField(
        label="SALT posterior % loss", min_value=0, max_value=100, decimal_places=1, required=False
    )
    salt_right = forms.DecimalField(
        label="SALT right side % loss", min_value=0, max_value=100, decimal_places=1, required=False
    )
    salt_left = forms.DecimalField(
        label="SALT left side % loss", min_value=0, max_value=100, decimal_places=1, required=False
    )
    follicles_present = forms.TypedChoiceField(
        label="Follicles present in the target area",
        choices=[
            ("", "Choose…"),
            ("yes", "Yes"),
            ("no", "No (no living follicles)"),
            ("unknown", "Not assessed"),
        ],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
    )
    pull_test = forms.ChoiceField(label="Pull test", choices=PullTest.choices, initial="not_done")
    pull_test_pulled = forms.IntegerField(
        label="Hairs pulled", min_value=1, max_value=200, required=False
    )
    pull_test_shed = forms.IntegerField(
        label="Hairs that came out", min_value=0, max_value=200, required=False
    )
    notes = forms.CharField(label="Notes", widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def to_data(self) -> AssessmentData:
        data = dict(self.cleaned_data)
        scale_id, _, scale_value = (data.pop("scale") or "").partition("|")
        return AssessmentData(**data, scale_id=scale_id, scale_value=scale_value)

    @staticmethod
    def initial_from(assessment: Any, today: dt.date | None = None) -> dict[str, Any]:
        if assessment is None:
            return {"visit_on": today or timezone.localdate()}
        values = {
            f: getattr(assessment, f)
            for f in (
                "visit_on",
                "diagnosis_code",
                "salt_vertex",
                "salt_posterior",
                "salt_right",
                "salt_left",
                "pull_test",
                "pull_test_pulled",
                "pull_test_shed",
                "notes",
            )
        }
        values["follicles_present"] = {True: "yes", False: "no", None: "unknown"}[
            assessment.follicles_present
        ]
        if assessment.scale_id:
            value = "" if assessment.scale_id == "salt" else assessment.scale_value
            values["scale"] = f"{assessment.scale_id}|{value}"
        return values


class SaltForm(forms.Form):
    salt_vertex = forms.DecimalField(min_value=0, max_value=100)
    salt_posterior = forms.DecimalField(min_value=0, max_value=100)
    salt_right = forms.DecimalField(min_value=0, max_value=100)
    salt_left = forms.DecimalField(min_value=0, max_value=100)


class ScreeningForm(forms.Form):
    procedure = forms.ChoiceField(
        label="Procedure", choices=[(k, v["label"]) for k, v in PROCEDURES.items()]
    )
    planned_on = forms.DateField(label="Planned date", widget=DATE)


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason for accepting the relative contraindications",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class ConsentSignForm(forms.Form):
    template_version = forms.IntegerField(widget=forms.HiddenInput)
    signed_name = forms.CharField(
        label="Patient's full name (typed by the patient)", max_length=210
    )
    agreed = forms.BooleanField(label="The patient has read this text and agrees", required=False)
    # Filled by care/signature.js when the clinic has patients draw their signature.
    signature = forms.CharField(widget=forms.HiddenInput, required=False, max_length=300_000)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason for withdrawal", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class TemplatePublishForm(forms.Form):
    kind = forms.ChoiceField(choices=ConsentKind.choices, widget=forms.HiddenInput)
    title = forms.CharField(label="Title", max_length=200)
    body = forms.CharField(
        label="Consent text",
        widget=forms.Textarea(attrs={"rows": 18}),
        max_length=20000,
        help_text="Plain text; blank lines separate paragraphs.",
    )
