from __future__ import annotations

from typing import Any

from django import forms

from anagen.imports import columns

NOT_IN_FILE = ""


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file from the other system",
        help_text="One patient per row, with a heading row. Up to 20,000 rows and 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )


class MappingForm(forms.Form):
    """One choice per field of ours: which of their columns holds it."""

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(NOT_IN_FILE, "— not in the file —"), *[(h, h) for h in headers]]
        for column in columns.COLUMNS:
            label = column.label + ("" if column.required else " (optional)")
            self.fields[column.key] = forms.ChoiceField(
                label=label,
                choices=choices,
                required=False,
                help_text=column.help,
            )

    def mapping(self) -> dict[str, str]:
        return {k: v for k, v in self.cleaned_data.items() if v}


class ErasureForm(forms.Form):
    received_on = forms.DateField(
        label="The day the patient asked",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    confirm = forms.BooleanField(
        label="I understand that the record is closed to everyone from now on, and deleted "
        "for good when the retention period ends.",
    )


class RetentionForm(forms.Form):
    rule = forms.ChoiceField(label="Rule", required=False)
    years = forms.IntegerField(
        label="Years to keep a record after the patient's last visit",
        min_value=1,
        max_value=100,
        required=False,
    )
    basis = forms.CharField(
        label="Law or policy (when you type your own period)", max_length=300, required=False
    )

    def __init__(self, *args: Any, rules: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rules = {r.code: r for r in rules}
        field = self.fields["rule"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "My own period (below)")] + [
            (r.code, f"{r.label}: {r.years} years after {r.after} ({r.source})") for r in rules
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        known = self.rules.get(data.get("rule") or "")
        if known is not None:
            data["years"], data["basis"] = known.years, known.basis
        elif not data.get("years"):
            self.add_error("years", "Choose a rule or give the number of years.")
        elif not (data.get("basis") or "").strip():
            self.add_error("basis", "Say which law or policy sets this period.")
        return data


class ArchiveForm(forms.Form):
    archive = forms.FileField(
        label="Record archive",
        help_text="The archive another Anagen clinic made of one patient's record (a ZIP file).",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
