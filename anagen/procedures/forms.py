"""Forms of the session page and the inventory pages: parse input, nothing clinical."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.accounts.clinic_time import human_date
from anagen.accounts.models import User
from anagen.clinical import ACTIVATION_AGENTS, ANTICOAGULANT_AGENTS, PROCEDURES
from anagen.clinical import procedure_rules as rules
from anagen.procedures.models import (
    ConcentrationUnit,
    DeliveryMode,
    Indication,
    Lot,
    MesoDevice,
    MesoTechnique,
    MesotherapyFormulation,
    Product,
    ProductCategory,
    TreatmentSession,
    VialType,
)
from anagen.procedures.services.inventory import lot_recalled_message
from anagen.web.fast_widgets import fast_form

DT_FORMAT = "%Y-%m-%dT%H:%M"
DT_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DT_FORMAT)
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_SPINS = 2


def local_input(value: dt.datetime | None, tz: dt.tzinfo | None = None) -> str:
    """An instant as a datetime-local input's value, in the clinic's zone ('' for None)."""
    if value is None:
        return ""
    return timezone.localtime(value, tz).strftime(DT_FORMAT)


def _vocab(v: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    return [(k, str(e["label"])) for k, e in v.items()]


def _dec(max_digits: int = 6, places: int = 2, **kw: Any) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=max_digits, decimal_places=places, required=False, min_value=0, **kw
    )


class ReasonMixin(forms.Form):
    reason = forms.CharField(
        label="Reason for amendment",
        required=False,
        max_length=500,
        help_text="Required once the session is signed.",
    )


class StartForm(forms.Form):
    procedure = forms.ChoiceField(label="Procedure", choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["procedure"].choices = [(k, v["label"]) for k, v in PROCEDURES.items()]  # type: ignore[attr-defined]


class PhaseForm(ReasonMixin):
    phase = forms.CharField(widget=forms.HiddenInput)
    at = forms.DateTimeField(label="At", required=False, widget=DT_WIDGET, help_text="Blank: now.")

    def clean_at(self) -> dt.datetime | None:
        at: dt.datetime | None = self.cleaned_data.get("at")
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at)
        return at


@fast_form
class DetailsForm(ReasonMixin):
    delivery_mode = forms.ChoiceField(label="Delivery", choices=DeliveryMode.choices)
    rotor_radius_cm = _dec(5, 2, label="Centrifuge rotor radius (cm)", max_value=50)
    baseline_photos_taken = forms.BooleanField(label="Baseline photos taken", required=False)
    aftercare_given = forms.BooleanField(label="Aftercare instructions given", required=False)
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def data_for_service(self, session: TreatmentSession) -> dict[str, Any]:
        data = {
            k: self.cleaned_data[k] for k in ("baseline_photos_taken", "aftercare_given", "notes")
        }
        if session.is_prp:
            data["delivery_mode"] = self.cleaned_data["delivery_mode"]
            data["rotor_radius_cm"] = self.cleaned_data["rotor_radius_cm"]
        return data

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "details_%s")
        super().__init__(*args, **kwargs)


@fast_form
class PreparationForm(ReasonMixin):
    blood_volume_ml = _dec(label="Blood drawn (mL)")
    tubes = forms.IntegerField(label="Tubes", required=False, min_value=1, max_value=20)
    anticoagulant_agent = forms.ChoiceField(label="Anticoagulant", required=False, choices=[])
    anticoagulant_volume_ml = _dec(label="Anticoagulant volume (mL)")
    operator = forms.ModelChoiceField(
        label="Operator", queryset=User.objects.none(), required=False
    )
    wb_platelets_per_ul = forms.IntegerField(
        label="Baseline platelets (/µL)", required=False, min_value=1, max_value=5_000_000
    )
    wb_wbc_per_ul = forms.IntegerField(
        label="Baseline WBC (/µL)", required=False, min_value=0, max_value=500_000
    )
    wb_neutrophils_pct = _dec(4, 1, label="Baseline neutrophils (% of WBC)", max_value=100)
    wb_rbc_per_ul = forms.IntegerField(
        label="Baseline RBC (/µL)", required=False, min_value=0, max_value=10_000_000
    )
    prp_volume_ml = _dec(label="PRP volume (mL)")
    prp_platelets_per_ul = forms.IntegerField(
        label="PRP platelets (/µL)", required=False, min_value=1, max_value=20_000_000
    )
    prp_wbc_per_ul = forms.IntegerField(
        label="PRP WBC (/µL)", required=False, min_value=0, max_value=500_000
    )
    prp_neutrophils_pct = _dec(4, 1, label="PRP neutrophils (% of WBC)", max_value=100)
    prp_rbc_per_ul = forms.IntegerField(
        label="PRP RBC (/µL)", required=False, min_value=0, max_value=10_000_000
    )
    activation_agent = forms.ChoiceField(label="Activation agent", choices=[])
    activation_volume_ml = _dec(label="Activator volume (mL)")
    injected_volume_ml = _dec(label="PRP volume injected (mL)")

    def __init__(self, *args: Any, session: TreatmentSession, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "prep_%s")
        super().__init__(*args, **kwargs)
        self.fields["anticoagulant_agent"].choices = [("", "—"), *_vocab(ANTICOAGULANT_AGENTS)]  # type: ignore[attr-defined]
        self.fields["activation_agent"].choices = _vocab(ACTIVATION_AGENTS)  # type: ignore[attr-defined]
        self.fields["operator"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            memberships__clinic_id=session.clinic_id, memberships__is_active=True
        ).order_by("username")
        for n in range(1, MAX_SPINS + 1):
            self.fields[f"spin{n}_g"] = forms.IntegerField(
                label=f"Spin {n}: g", required=False, min_value=1, max_value=50000
            )
            self.fields[f"spin{n}_rpm"] = forms.IntegerField(
                label=f"Spin {n}: rpm", required=False, min_value=1, max_value=30000
            )
            self.fields[f"spin{n}_minutes"] = _dec(5, 1, label=f"Spin {n}: minutes", max_value=120)
            self.fields[f"spin{n}_radius_cm"] = _dec(
                5,
                2,
                label=f"Spin {n}: rotor radius (cm)",
                max_value=50,
                help_text="With rpm; blank: the radius under Session details.",
            )

    @staticmethod
    def initial_from(prep: Any) -> dict[str, Any]:
        if prep is None:
            return {"activation_agent": "none"}
        from anagen.procedures.services import PREP_FIELDS

        initial = {f: getattr(prep, f) for f in PREP_FIELDS if f != "spins"}
        for n, spin in enumerate(prep.spins[:MAX_SPINS], start=1):
            for key in ("g", "rpm", "minutes", "radius_cm"):
                if spin.get(key) is not None:
                    initial[f"spin{n}_{key}"] = spin[key]
        return initial

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        for n in range(1, MAX_SPINS + 1):
            if data.get(f"spin{n}_g") and data.get(f"spin{n}_rpm"):
                self.add_error(f"spin{n}_rpm", "Give the spin as g or as rpm, not both.")
        return data

    def data_for_service(self) -> dict[str, Any]:
        from anagen.procedures.services import PREP_FIELDS

        data = {f: self.cleaned_data.get(f) for f in PREP_FIELDS if f != "spins"}
        spins = []
        for n in range(1, MAX_SPINS + 1):
            g, rpm = self.cleaned_data.get(f"spin{n}_g"), self.cleaned_data.get(f"spin{n}_rpm")
            minutes = self.cleaned_data.get(f"spin{n}_minutes")
            radius = self.cleaned_data.get(f"spin{n}_radius_cm") if rpm is not None else None
            if g is None and rpm is None and minutes is None:
                continue
            spins.append({"g": g, "rpm": rpm, "minutes": minutes, "radius_cm": radius})
        data["spins"] = spins
        return data


class ZonesForm(ReasonMixin):
    """One row per zone of the site; a blank volume means the zone was not treated."""

    def __init__(self, *args: Any, session: TreatmentSession, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zones = rules.zones_for(session.site)
        techniques = _vocab(rules.rules()["prp_techniques"])
        for z in self.zones:
            c, label = z["code"], z["label"]
            self.fields[f"{c}_volume"] = _dec(label=f"{label}: volume (mL)")
            self.fields[f"{c}_depth"] = _dec(4, 1, label=f"{label}: depth (mm)", max_value=12)
            self.fields[f"{c}_technique"] = forms.ChoiceField(
                label=f"{label}: technique", choices=[("", "—"), *techniques], required=False
            )
            self.fields[f"{c}_gauge"] = forms.IntegerField(
                label=f"{label}: needle (G)", required=False, min_value=18, max_value=34
            )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "code": z["code"],
                "label": z["label"],
                "fields": [
                    self[f"{z['code']}_{k}"] for k in ("volume", "depth", "technique", "gauge")
                ],
            }
            for z in self.zones
        ]

    @staticmethod
    def initial_from(zones: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for z in zones:
            initial.update(
                {
                    f"{z.zone}_volume": z.volume_ml,
                    f"{z.zone}_depth": z.depth_mm,
                    f"{z.zone}_technique": z.technique,
                    f"{z.zone}_gauge": z.needle_gauge,
                }
            )
        return initial

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        for z in self.zones:
            c = z["code"]
            if data.get(f"{c}_volume") and not data.get(f"{c}_technique"):
                self.add_error(f"{c}_technique", f"{z['label']}: choose a technique.")
        return data

    def zones_for_service(self) -> list[dict[str, Any]]:
        out = []
        for z in self.zones:
            c = z["code"]
            volume = self.cleaned_data.get(f"{c}_volume")
            if not volume:
                continue
            out.append(
                {
                    "zone": c,
                    "volume_ml": volume,
                    "depth_mm": self.cleaned_data.get(f"{c}_depth"),
                    "technique": self.cleaned_data.get(f"{c}_technique"),
                    "needle_gauge": self.cleaned_data.get(f"{c}_gauge"),
                }
            )
        return out


@fast_form
class TopicalForm(ReasonMixin):
    device = forms.CharField(label="Microneedling device", max_length=120)
    needle_depth_mm = forms.DecimalField(
        label="Needle depth (mm)",
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0.05"),
        max_value=3,
    )
    passes = forms.IntegerField(label="Passes", min_value=1, max_value=20)
    volume_ml = forms.DecimalField(
        label="PRP applied (mL)", max_digits=6, decimal_places=2, min_value=Decimal("0.01")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "topical_%s")
        super().__init__(*args, **kwargs)


@fast_form
class MesoDeliveryForm(ReasonMixin):
    formulation = forms.ModelChoiceField(
        label="Formulation", queryset=MesotherapyFormulation.objects.none()
    )
    zone = forms.ChoiceField(label="Area", choices=[])
    technique = forms.ChoiceField(label="Technique (depth)", choices=MesoTechnique.choices)
    device = forms.ChoiceField(label="Delivery", choices=MesoDevice.choices)
    injection_points = forms.IntegerField(label="Injection points", min_value=1, max_value=1000)
    volume_per_point_ml = forms.DecimalField(
        label="Volume per point (mL)",
        max_digits=6,
        decimal_places=3,
        min_value=Decimal("0.001"),
        max_value=5,
    )
    area_cm2 = forms.DecimalField(
        label="Area treated (cm²)",
        max_digits=7,
        decimal_places=1,
        required=False,
        min_value=Decimal("0.1"),
    )
    allergy_override_reason = forms.CharField(
        label="Allergy override reason",
        required=False,
        max_length=1000,
        help_text=(
            "Only when the formulation was refused for a recorded allergy; a physician decides."
        ),
    )

    def __init__(self, *args: Any, session: TreatmentSession, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "meso_%s")
        super().__init__(*args, **kwargs)
        self.fields["formulation"].queryset = MesotherapyFormulation.objects.filter(  # type: ignore[attr-defined]
            clinic_id=session.clinic_id, is_active=True
        )
        self.fields["zone"].choices = [  # type: ignore[attr-defined]
            (z["code"], z["label"]) for z in rules.zones_for(session.site)
        ]

    def data_for_service(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in ("formulation", "reason", "allergy_override_reason")
        }


class MesoRemoveForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, remove this delivery",
        error_messages={"required": "Tick the box to confirm the removal."},
    )


class LotChoiceField(forms.ModelChoiceField):
    """Recalled lots are not offered; one sent anyway (a stale page) is refused in words."""

    clinic_id: int | None = None

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValidationError:
            recalled = (
                Lot.objects.filter(
                    pk=int(value), product__clinic_id=self.clinic_id, recalled_at__isnull=False
                )
                .select_related("product")
                .first()
                if self.clinic_id is not None and str(value).isdigit()
                else None
            )
            if recalled is not None:
                raise ValidationError(lot_recalled_message(recalled)) from None
            raise

    def label_from_instance(self, obj: Any) -> str:
        today = timezone.localdate()  # the active zone is the clinic's during a request
        state = (
            f"expired {human_date(obj.expires_on)}"
            if obj.expires_on < today
            else f"expires {human_date(obj.expires_on)}"
        )
        return f"{obj.product.name} — lot {obj.lot_number} ({state})"


@fast_form
class LotUseForm(ReasonMixin):
    lot = LotChoiceField(label="Lot", queryset=Lot.objects.none())
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=1000, initial=1)
    zone = forms.ChoiceField(label="Zone (optional)", required=False, choices=[])
    allergy_override_reason = forms.CharField(
        label="Physician's reason to use it despite the allergy",
        required=False,
        max_length=1000,
        help_text="Only when the lot was refused for a recorded allergy; a physician decides.",
    )

    def __init__(self, *args: Any, session: TreatmentSession, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "lotuse_%s")
        super().__init__(*args, **kwargs)
        self.fields["lot"].clinic_id = session.clinic_id  # type: ignore[attr-defined]
        self.fields["lot"].queryset = (  # type: ignore[attr-defined]
            Lot.objects.filter(
                product__clinic_id=session.clinic_id,
                product__is_active=True,
                recalled_at__isnull=True,
            )
            .select_related("product")
            .order_by("product__name", "expires_on")
        )
        self.fields["zone"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *((z["code"], z["label"]) for z in rules.zones_for(session.site)),
        ]


@fast_form
class AdverseEventForm(forms.Form):
    term = forms.ChoiceField(label="Term", choices=[])
    term_other = forms.CharField(label="Describe (if Other)", required=False, max_length=200)
    ctcae_grade = forms.TypedChoiceField(label="CTCAE grade", coerce=int, choices=[])
    onset_at = forms.DateTimeField(label="Onset", widget=DT_WIDGET)
    seriousness_criteria = forms.MultipleChoiceField(
        label="Serious because (ICH E2A)",
        required=False,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick every criterion that applies; none ticked = not serious. Seriousness "
        "is not the CTCAE grade. Hospitalisation as the action taken makes it serious.",
    )
    relatedness = forms.ChoiceField(label="Relatedness to the procedure", choices=[])
    action = forms.ChoiceField(label="Action taken", choices=[])
    outcome = forms.ChoiceField(label="Outcome", choices=[])
    zone = forms.ChoiceField(label="Zone", required=False, choices=[])
    lot = forms.ModelChoiceField(label="Lot", required=False, queryset=Lot.objects.none())
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, session: TreatmentSession, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "ae_%s")
        super().__init__(*args, **kwargs)
        v = rules.ae_vocab()
        self.fields["term"].choices = _vocab(v["terms"])  # type: ignore[attr-defined]
        self.fields["ctcae_grade"].choices = [  # type: ignore[attr-defined]
            (int(k), e["label"]) for k, e in v["ctcae_grades"].items()
        ]
        self.fields["seriousness_criteria"].choices = [  # type: ignore[attr-defined]
            (k, str(e["label"])) for k, e in rules.ae_seriousness_criteria().items()
        ]
        # No default: relatedness is an explicit answer (issue 10, point 3).
        self.fields["relatedness"].choices = [  # type: ignore[attr-defined]
            ("", "Choose…"),
            *_vocab(v["relatedness"]),
        ]
        self.fields["action"].choices = _vocab(v["actions"])  # type: ignore[attr-defined]
        self.fields["outcome"].choices = _vocab(v["outcomes"])  # type: ignore[attr-defined]
        self.fields["zone"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *((z["code"], z["label"]) for z in rules.zones_for(session.site)),
        ]
        self.fields["lot"].queryset = (  # type: ignore[attr-defined]
            Lot.objects.filter(uses__session=session).select_related("product").distinct()
        )

    def clean_onset_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["onset_at"]
        return timezone.make_aware(at) if timezone.is_naive(at) else at


@fast_form
class FollowUpForm(forms.Form):
    on = forms.DateField(label="Date", widget=DATE_WIDGET)
    outcome = forms.ChoiceField(label="Outcome", choices=[])
    note = forms.CharField(label="Note", required=False, max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = rules.choices(rules.ae_vocab()["outcomes"])  # type: ignore[attr-defined]


# --- inventory and formulations ---------------------------------------------------------------


class LotRecallForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the recall",
        min_length=5,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The supplier's notice or what was found.",
    )
    confirm = forms.BooleanField(
        label="I confirm: this lot can no longer be used for any session.",
        error_messages={"required": "Tick the box to confirm the recall."},
    )


class ProductForm(forms.Form):
    name = forms.CharField(label="Product name", max_length=120)
    category = forms.ChoiceField(label="Category", choices=ProductCategory.choices)
    manufacturer = forms.CharField(label="Manufacturer", required=False, max_length=120)


class LotReceiveForm(forms.Form):
    product = forms.ModelChoiceField(label="Product", queryset=Product.objects.none())
    lot_number = forms.CharField(label="Lot number", max_length=60)
    expires_on = forms.DateField(label="Expires on", widget=DATE_WIDGET)
    received_on = forms.DateField(label="Received on", required=False, widget=DATE_WIDGET)
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=100000)

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(  # type: ignore[attr-defined]
            clinic_id=clinic_id, is_active=True
        )


INGREDIENT_ROWS = 5


class FormulationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    vial = forms.ChoiceField(label="Vial", choices=VialType.choices)
    indications = forms.MultipleChoiceField(
        label="Indications", choices=Indication.choices, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = [
            ("", "—"),
            *((k, v["label"]) for k, v in rules.rules()["mesotherapy"]["ingredients"].items()),
        ]
        for n in range(1, INGREDIENT_ROWS + 1):
            self.fields[f"ing{n}_name"] = forms.CharField(
                label=f"Ingredient {n}", required=False, max_length=120
            )
            self.fields[f"ing{n}_code"] = forms.ChoiceField(
                label=f"Ingredient {n}: label rules", required=False, choices=codes
            )
            self.fields[f"ing{n}_concentration"] = forms.DecimalField(
                label=f"Ingredient {n}: concentration",
                required=False,
                max_digits=10,
                decimal_places=4,
                min_value=0,
            )
            self.fields[f"ing{n}_unit"] = forms.ChoiceField(
                label=f"Ingredient {n}: unit",
                required=False,
                choices=[("", "—"), *ConcentrationUnit.choices],
            )

    def ingredient_rows(self) -> list[list[Any]]:
        return [
            [self[f"ing{n}_{k}"] for k in ("name", "code", "concentration", "unit")]
            for n in range(1, INGREDIENT_ROWS + 1)
        ]

    def ingredients(self) -> list[dict[str, Any]]:
        return [
            {
                k: self.cleaned_data.get(f"ing{n}_{k}")
                for k in ("name", "code", "concentration", "unit")
            }
            for n in range(1, INGREDIENT_ROWS + 1)
        ]
