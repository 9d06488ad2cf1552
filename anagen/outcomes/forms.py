"""Forms: input shape only; the services decide what is valid clinically."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from anagen.clinical import SCALES
from anagen.outcomes import imaging, services
from anagen.outcomes.models import AreaUnit, Method, PhotoView, SiteLocation, VisitLabel
from anagen.outcomes.selectors import ANALYTIC_MEASURES, DIMENSIONS, MEASURES

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
RATING_CHOICES = [("", "—")] + [(str(i), f"{i:+d}" if i else "0") for i in range(-3, 4)]
SATISFACTION_CHOICES = [
    ("", "—"),
    ("1", "1 – very dissatisfied"),
    ("2", "2 – dissatisfied"),
    ("3", "3 – neutral"),
    ("4", "4 – satisfied"),
    ("5", "5 – very satisfied"),
]


class MeasurementForm(forms.Form):
    measured_on = forms.DateField(widget=DATE)
    visit_label = forms.ChoiceField(choices=VisitLabel.choices, label="Visit")
    method = forms.ChoiceField(choices=Method.choices)
    device = forms.CharField(required=False, max_length=80)
    site_name = forms.CharField(
        max_length=80, label="Site", help_text="The marked site, e.g. “Vertex tattoo dot”."
    )
    location = forms.ChoiceField(choices=SiteLocation.choices, initial="vertex")
    hair_count = forms.IntegerField(required=False, min_value=0, label="Hair count")
    area = forms.FloatField(required=False, min_value=0, label="Target area")
    area_unit = forms.ChoiceField(choices=AreaUnit.choices, initial="cm2", label="Area unit")
    density = forms.FloatField(
        required=False, min_value=0, help_text="Leave empty to compute count ÷ area."
    )
    density_unit = forms.ChoiceField(
        choices=[("cm2", "hairs/cm²"), ("in2", "hairs/inch²")], initial="cm2"
    )
    mean_diameter_um = forms.FloatField(required=False, label="Mean diameter (µm)")
    cumulative_thickness_mm_per_cm2 = forms.FloatField(
        required=False, label="Cumulative thickness (mm/cm²)"
    )
    terminal_pct = forms.FloatField(
        required=False, label="Terminal % (> 40 µm)", help_text="Vellus % is the rest."
    )
    anagen_pct = forms.FloatField(
        required=False, label="Anagen %", help_text="Telogen % is the rest."
    )
    pull_test_pulled = forms.IntegerField(required=False, min_value=0, label="Pull test: pulled")
    pull_test_shed = forms.IntegerField(required=False, min_value=0, label="Pull test: shed")
    wash_test_count = forms.IntegerField(required=False, min_value=0, label="Wash test (hairs)")
    salt = forms.FloatField(required=False, label="SALT (0–100)")
    stage_scale = forms.ChoiceField(
        required=False,
        choices=[("", "—")] + [(k, v.label) for k, v in SCALES.items() if k != "global_photo_7"],
        label="Stage scale",
    )
    stage_value = forms.CharField(required=False, max_length=20, label="Stage")
    global_photo_rating = forms.TypedChoiceField(
        required=False,
        choices=RATING_CHOICES,
        coerce=int,
        empty_value=None,
        label="Global photo rating (-3..+3)",
    )
    satisfaction = forms.TypedChoiceField(
        required=False,
        choices=SATISFACTION_CHOICES,
        coerce=int,
        empty_value=None,
        label="Patient satisfaction",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    SITE_FIELDS = (
        "hair_count",
        "area",
        "density",
        "mean_diameter_um",
        "cumulative_thickness_mm_per_cm2",
        "terminal_pct",
        "anagen_pct",
    )

    def to_values(self) -> services.VisitValues:
        d: dict[str, Any] = self.cleaned_data
        sites = []
        if any(d.get(f) is not None for f in self.SITE_FIELDS):
            sites.append(
                services.SiteValues(
                    site_name=d["site_name"],
                    location=d["location"],
                    area_unit=d["area_unit"],
                    density_unit=d["density_unit"],
                    **{f: d.get(f) for f in self.SITE_FIELDS},
                )
            )
        return services.VisitValues(
            measured_on=d["measured_on"],
            visit_label=d["visit_label"],
            method=d["method"],
            device=d.get("device", ""),
            pull_test_pulled=d.get("pull_test_pulled"),
            pull_test_shed=d.get("pull_test_shed"),
            wash_test_count=d.get("wash_test_count"),
            salt=d.get("salt"),
            stage_scale=d.get("stage_scale", ""),
            stage_value=d.get("stage_value", ""),
            global_photo_rating=d.get("global_photo_rating"),
            satisfaction=d.get("satisfaction"),
            notes=d.get("notes", ""),
            sites=sites,
        )


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A CSV export (TrichoScan-style), at most 1 MB.")
    device = forms.CharField(required=False, max_length=80, initial="TrichoScan")
    density_unit = forms.ChoiceField(
        choices=[("cm2", "hairs/cm²"), ("in2", "hairs/inch²")],
        initial="cm2",
        label="Density unit in the file",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, header in services.IMPORT_FIELDS.items():
            self.fields[f"col_{key}"] = forms.CharField(
                initial=header,
                required=key in services.REQUIRED_IMPORT_FIELDS,
                max_length=80,
                label=f"Column for {services.FIELD_LABELS.get(key, key).lower()}",
            )

    def mapping(self) -> dict[str, str]:
        return {k: self.cleaned_data.get(f"col_{k}", "").strip() for k in services.IMPORT_FIELDS}


class PhotoSetForm(forms.Form):
    # The view gives the clinic's today as the initial value.
    taken_on = forms.DateField(widget=DATE)
    notes = forms.CharField(required=False, max_length=200)


class PhotoUploadForm(forms.Form):
    view = forms.ChoiceField(choices=PhotoView.choices)
    # A plain file field: the service re-checks and re-encodes the image and says why it fails.
    file = forms.FileField(
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        label="Photo",
    )

    def clean_file(self) -> Any:
        # The size alone is refused before anything reads the file (issue 13).
        upload = self.cleaned_data["file"]
        try:
            imaging.check_size(upload.size)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["file"]) from None
        return upload


class AnalyticsForm(forms.Form):
    measure = forms.ChoiceField(
        choices=[(m, MEASURES[m].label) for m in ANALYTIC_MEASURES],
        initial="density_per_cm2",
        required=False,
    )
    group_by = forms.ChoiceField(
        choices=[("", "All patients"), *DIMENSIONS.items()], required=False
    )
    rule = forms.ChoiceField(required=False, label="Responder rule")

    def __init__(
        self, *args: Any, options: dict[str, list[tuple[str, str]]], **kwargs: Any
    ) -> None:
        from anagen.clinical import RESPONDER_RULES

        super().__init__(*args, **kwargs)
        rule_field = self.fields["rule"]
        assert isinstance(rule_field, forms.ChoiceField)
        rule_field.choices = [("", "—")] + [(k, r["label"]) for k, r in RESPONDER_RULES.items()]
        for key, label in DIMENSIONS.items():
            self.fields[f"f_{key}"] = forms.ChoiceField(
                required=False,
                label=label,
                choices=[("", "any"), *options.get(key, [])],
            )

    def filters(self) -> dict[str, str]:
        return {k: self.cleaned_data.get(f"f_{k}", "") for k in DIMENSIONS}


class PanelForm(forms.Form):
    name = forms.CharField(max_length=120)
    view = forms.ChoiceField(choices=PhotoView.choices, initial="vertex")
    raters = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, rater_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["raters"].choices = rater_choices  # type: ignore[attr-defined]


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(str(i), f"{i:+d}" if i else "0") for i in range(-3, 4)],
        coerce=int,
        widget=forms.RadioSelect,
        label="Right compared with left",
    )
