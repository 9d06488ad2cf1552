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
