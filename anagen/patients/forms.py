"""Page forms for the registry and intake. They validate shape; services validate meaning."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.safestring import SafeString

from anagen.patients import vocab
from anagen.web.fast_widgets import FAST_RENDERER, fast_form, form_fields, template_text

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Row selects start blank so an untouched blank row submits nothing and is skipped.
BLANK: list[tuple[str, str]] = [("", "—")]


class PatientForm(forms.Form):
    given_name = forms.CharField(max_length=100, label="Given name")
    family_name = forms.CharField(max_length=100, label="Family name")
    birth_date = forms.DateField(label="Date of birth", widget=DATE_INPUT)
    # No default: screening reads sex (pregnancy, anaemia thresholds), so it must be chosen.
    sex = forms.ChoiceField(choices=BLANK + vocab.Sex.choices)
    phone = forms.CharField(
        max_length=30, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    email = forms.EmailField(required=False)
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    preferred_language = forms.CharField(max_length=35, required=False, initial="en")
    sms_reminders = forms.BooleanField(required=False, label="Agrees to SMS reminders")
    email_reminders = forms.BooleanField(required=False, label="Agrees to email reminders")
    confirm_duplicate = forms.BooleanField(
        required=False,
        label="This is a different person with the same name and date of birth",
    )


class DeleteForm(forms.Form):
    reason = forms.CharField(
        label="Why is this record deleted?",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="E.g. registered twice, or a test record. Nothing is erased: it can be restored.",
    )


@fast_form
class IntakeForm(forms.Form):
    conditions = forms.MultipleChoiceField(
        choices=vocab.CONDITIONS, required=False, widget=forms.CheckboxSelectMultiple
    )
    conditions_note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    smoking = forms.ChoiceField(choices=BLANK + vocab.Smoking.choices)
    pregnant = forms.BooleanField(required=False)
    breastfeeding = forms.BooleanField(required=False)
    hair_loss_onset = forms.DateField(required=False, widget=DATE_INPUT, label="Hair loss began")
    hair_loss_pattern = forms.ChoiceField(
        choices=[("", "—"), *vocab.HairLossPattern.choices], required=False
    )
    family_history = forms.BooleanField(required=False, label="Family history of hair loss")
    family_history_note = forms.CharField(max_length=200, required=False)
    tight_hairstyles = forms.BooleanField(required=False, label="Tight hairstyles (traction)")
    recent_triggers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def fields_html(self) -> SafeString:
        """The page's `{% include "_form_fields.html" with form=form %}`, drawn in Python."""
        return form_fields(self)

    def clean_hair_loss_onset(self) -> Any:
        onset = self.cleaned_data.get("hair_loss_onset")
        if onset and onset > timezone.localdate():
            raise forms.ValidationError("Onset cannot be in the future.")
        return onset


@fast_form
class MedicationForm(forms.Form):
    name = forms.CharField(max_length=120)
    category = forms.ChoiceField(choices=BLANK + vocab.MedicationCategory.choices)
    # An explicit answer with no default (over-the-counter aspirin defers, prescribed is reviewed).
    prescribed = forms.TypedChoiceField(
        choices=[("", "—"), ("yes", "Prescribed"), ("no", "Over the counter")],
        coerce=lambda v: v == "yes",
        empty_value=None,
        label="Prescribed?",
    )
    last_dose_on = forms.DateField(required=False, widget=DATE_INPUT, label="Last dose")
    dose = forms.CharField(max_length=80, required=False)


@fast_form
class AllergyForm(forms.Form):
    substance = forms.CharField(max_length=120)
    reaction = forms.CharField(max_length=200, required=False)


LAB_UNIT_FORM_CHOICES = [(u, u) for u in vocab.LAB_UNIT_CHOICES]


@fast_form
class LabForm(forms.Form):
    analyte = forms.ChoiceField(choices=BLANK + vocab.LabAnalyte.choices, label="Test")
    value = forms.DecimalField(max_digits=12, decimal_places=3, min_value=0)
    unit = forms.ChoiceField(choices=BLANK + LAB_UNIT_FORM_CHOICES)
    taken_on = forms.DateField(widget=DATE_INPUT, label="Date")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        analyte, unit = data.get("analyte"), data.get("unit")
        if analyte and unit:
            units = vocab.LAB_UNITS[analyte].units
            if unit not in units:
                self.add_error("unit", f"Use one of: {', '.join(units)}.")
        taken = data.get("taken_on")
        if taken and taken > timezone.localdate():
            self.add_error("taken_on", "A lab date cannot be in the future.")
        return data


@fast_form
class PriorProcedureForm(forms.Form):
    kind = forms.ChoiceField(
        choices=BLANK + vocab.PriorProcedureKind.choices, label="Procedure at the site"
    )
    on = forms.DateField(widget=DATE_INPUT, label="Date")
    note = forms.CharField(max_length=200, required=False)

    def clean_on(self) -> Any:
        on = self.cleaned_data.get("on")
        if on and on > timezone.localdate():
            raise forms.ValidationError("A procedure date cannot be in the future.")
        return on


@fast_form
class PriorTreatmentForm(forms.Form):
    treatment = forms.ChoiceField(choices=BLANK + vocab.PriorTreatment.choices)
    started_on = forms.DateField(required=False, widget=DATE_INPUT, label="Started")
    response = forms.ChoiceField(choices=vocab.TreatmentResponse.choices, initial="unknown")
    note = forms.CharField(max_length=200, required=False)


def intake_formsets(
    data: Any = None, initial: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """The repeating parts of an intake, each with blank rows to fill in.

    Rows carried over from the previous intake can be removed with their "Delete" box.
    """
    initial = initial or {}
    return {
        prefix: formset_cls(data, prefix=prefix, initial=initial.get(prefix))
        for prefix, formset_cls in INTAKE_FORMSETS.items()
    }


class RowsFormSet(forms.BaseFormSet):
    """A formset shown as a table: one column per field, one row per form, and a blank row
    for the "Add a row" button. The cells are written here rather than in a template loop
    (~150 cells on an intake page); each is what the loop `{% for f in row.visible_fields %}`
    in patients/intake_form.html wrote before, character for character."""

    @cached_property
    def empty_form(self) -> Any:  # the header and the blank-row template share one
        return super().empty_form

    def management_html(self) -> SafeString:
        """`{{ formset.management_form }}`: an unbound formset's four hidden counts written
        directly (a bound one renders its management form as before)."""
        if self.is_bound:
            return SafeString(str(self.management_form))
        counts = (
            ("TOTAL_FORMS", self.total_form_count()),
            ("INITIAL_FORMS", self.initial_form_count()),
            ("MIN_NUM_FORMS", self.min_num),
            ("MAX_NUM_FORMS", self.max_num),
        )
        return SafeString(
            "".join(
                f'<input type="hidden" name="{template_text(name)}" value="{value}"'
                f' id="{template_text(self.auto_id % name)}">'
                for name, value in ((self.add_prefix(key), n) for key, n in counts)
            )
        )

    def header_cells(self) -> SafeString:
        return SafeString(
            "".join(
                f'<th scope="col">{template_text(f.label)}</th>'
                for f in self.empty_form.visible_fields()
            )
        )

    def body_rows(self) -> SafeString:
        """Each row, with the row's own errors in a row under it."""
        out = []
        for number, row in enumerate(self.forms, start=1):
            out.append("\n      <tr>")
            for f in row.visible_fields():
                errors = f.errors
                out.append('<td class="has-error">' if errors else "<td>")
                out.append(
                    f'<label class="sr" for="{template_text(f.id_for_label)}">'
                    f"{template_text(f.label)}, row {number}</label>{template_text(f)}"
                )
                out.extend(f'<p class="error" role="alert">{template_text(e)}</p>' for e in errors)
                out.append("</td>")
            out.append("</tr>\n      ")
            row_errors = row.non_field_errors()
            if row_errors:
                out.append('<tr><td colspan="9">')
                out.extend(f'<p class="error">{template_text(e)}</p>' for e in row_errors)
                out.append("</td></tr>")
            out.append("\n      ")
        return SafeString("".join(out))

    def blank_row(self) -> SafeString:
        return SafeString(
            "".join(
                f'<td><label class="sr" for="{template_text(f.id_for_label)}">'
                f"{template_text(f.label)}, new row</label>{template_text(f)}</td>"
                for f in self.empty_form.visible_fields()
            )
        )


# Built once: the row forms, how many blank rows each table offers, and the fast renderer
# (anagen.web.fast_widgets: Django's widget HTML, written without the template engine).
INTAKE_FORMSETS = {
    prefix: forms.formset_factory(
        form_cls,
        extra=extra,
        max_num=30,
        validate_max=True,
        can_delete=True,
        formset=RowsFormSet,
        renderer=FAST_RENDERER,
    )
    for prefix, form_cls, extra in (
        ("medications", MedicationForm, 3),
        ("allergies", AllergyForm, 2),
        ("labs", LabForm, 3),
        ("prior_procedures", PriorProcedureForm, 1),
        ("prior_treatments", PriorTreatmentForm, 2),
    )
}
