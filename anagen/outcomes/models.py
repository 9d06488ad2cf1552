"""Outcome records: measured sites, measurement sets, standardised photos, rating panels, reports.

Units are explicit and single: areas in cm², densities in hairs/cm², diameters in µm,
cumulative thickness in mm/cm². What a person typed in another unit (inch²) is converted at the
edge by the clinical kernel and only the unit they used is kept beside the canonical value.
"""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords


class SiteLocation(models.TextChoices):
    VERTEX = "vertex", "Vertex"
    CROWN = "crown", "Crown"
    MIDLINE = "midline", "Midline part"
    FRONTAL = "frontal", "Frontal"
    TEMPORAL_LEFT = "temporal_left", "Left temporal"
    TEMPORAL_RIGHT = "temporal_right", "Right temporal"
    OCCIPITAL = "occipital", "Occipital"
    OTHER = "other", "Other"


class VisitLabel(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    FOLLOW_UP = "follow_up", "Follow-up"


class Method(models.TextChoices):
    PHOTOTRICHOGRAM = "phototrichogram", "Phototrichogram"
    TRICHOSCOPY = "trichoscopy", "Trichoscopy"
    MANUAL_COUNT = "manual_count", "Manual count"
    IMPORTED_DEVICE = "imported_device", "Imported from device"


class AreaUnit(models.TextChoices):
    CM2 = "cm2", "cm²"
    INCH2 = "in2", "inch²"


class MeasurementSite(models.Model):
    """A marked site (e.g. a tattoo dot at the vertex) that is measured the same way each visit."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="measurement_sites"
    )
    name = models.CharField(max_length=80)
    location = models.CharField(max_length=20, choices=SiteLocation.choices)
    marked_on = models.DateField(null=True, blank=True)
    notes = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "name"], name="outcome_site_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class MeasurementSet(models.Model):
    """One visit's measurements taken with one method; visit-level measures live here."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="measurement_sets"
    )
    measured_on = models.DateField()
    visit_label = models.CharField(max_length=12, choices=VisitLabel.choices)
    method = models.CharField(max_length=20, choices=Method.choices)
    device = models.CharField(max_length=80, blank=True)
    # Visit-level measures (clinical-facts.md 5.4, 5.5).
    pull_test_pulled = models.PositiveSmallIntegerField(null=True, blank=True)
    pull_test_shed = models.PositiveSmallIntegerField(null=True, blank=True)
    wash_test_count = models.PositiveIntegerField(null=True, blank=True)
    salt = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    stage_scale = models.CharField(max_length=30, blank=True)
    stage_value = models.CharField(max_length=20, blank=True)
    global_photo_rating = models.SmallIntegerField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    import_batch = models.ForeignKey(
        "ImportBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="sets"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["measured_on", "id"]
        indexes = [models.Index(fields=["patient", "measured_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(global_photo_rating__isnull=True)
                | Q(global_photo_rating__gte=-3, global_photo_rating__lte=3),
                name="outcome_global_rating_range",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True)
                | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="outcome_satisfaction_range",
            ),
            models.CheckConstraint(
                condition=Q(salt__isnull=True) | Q(salt__gte=0, salt__lte=100),
                name="outcome_salt_range",
            ),
            # A pull test is both numbers or neither, and cannot shed more hairs than it pulled.
            models.CheckConstraint(
                condition=Q(pull_test_pulled__isnull=True, pull_test_shed__isnull=True)
                | Q(
                    pull_test_pulled__isnull=False,
                    pull_test_shed__isnull=False,
                    pull_test_shed__gte=0,
                    pull_test_shed__lte=F("pull_test_pulled"),
                ),
                name="outcome_pull_test_shed_le_pulled",
            ),
            models.CheckConstraint(
                condition=Q(wash_test_count__isnull=True) | Q(wash_test_count__gte=0),
                name="outcome_wash_test_count_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(visit_label__in=VisitLabel.values), name="outcome_visit_label_valid"
            ),
            models.CheckConstraint(
                condition=Q(method__in=Method.values), name="outcome_method_valid"
            ),
        ]

    def __str__(self) -> str:
        from anagen.accounts.clinic_time import human_date

        return (
            f"{self.get_visit_label_display()} {human_date(self.measured_on)} "
            f"({self.get_method_display()})"
        )

    @property
    def stage_display(self) -> str:
        """The scale's label and the stage ("Norwood–Hamilton IV"), not the scale's code."""
        if not self.stage_value:
            return ""
        from anagen.clinical import SCALES

        scale = SCALES.get(self.stage_scale)
        return f"{scale.label if scale else self.stage_scale} {self.stage_value}".strip()


class Measurement(models.Model):
    """What was measured at one site in one set. Count and density are separate fields."""

    measurement_set = models.ForeignKey(
        MeasurementSet, on_delete=models.PROTECT, related_name="measurements"
    )
    site = models.ForeignKey(MeasurementSite, on_delete=models.PROTECT, related_name="measurements")
    hair_count = models.PositiveIntegerField(null=True, blank=True)
    area_cm2 = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    area_unit_entered = models.CharField(max_length=4, choices=AreaUnit.choices, blank=True)
    area_value_entered = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    density_per_cm2 = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    density_unit_entered = models.CharField(max_length=4, choices=AreaUnit.choices, blank=True)
    density_value_entered = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )
    mean_diameter_um = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    cumulative_thickness_mm_per_cm2 = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True
    )
    terminal_pct = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    vellus_pct = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    anagen_pct = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    telogen_pct = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["measurement_set__measured_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["measurement_set", "site"], name="outcome_one_row_per_site_and_set"
            ),
            models.CheckConstraint(
                condition=Q(hair_count__isnull=True) | Q(hair_count__gte=0),
                name="outcome_hair_count_nonnegative",
            ),
            # A count belongs to the target area it was counted in.
            models.CheckConstraint(
                condition=Q(hair_count__isnull=True) | Q(area_cm2__isnull=False),
                name="outcome_hair_count_has_area",
            ),
            models.CheckConstraint(
                condition=Q(area_cm2__isnull=True) | Q(area_cm2__gt=0),
                name="outcome_area_positive",
            ),
            models.CheckConstraint(
                condition=Q(area_value_entered__isnull=True) | Q(area_value_entered__gt=0),
                name="outcome_area_entered_positive",
            ),
            models.CheckConstraint(
                condition=Q(density_per_cm2__isnull=True) | Q(density_per_cm2__gte=0),
                name="outcome_density_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(density_value_entered__isnull=True) | Q(density_value_entered__gte=0),
                name="outcome_density_entered_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(mean_diameter_um__isnull=True)
                | Q(mean_diameter_um__gt=0, mean_diameter_um__lte=300),
                name="outcome_diameter_range",
            ),
            models.CheckConstraint(
                condition=Q(cumulative_thickness_mm_per_cm2__isnull=True)
                | Q(cumulative_thickness_mm_per_cm2__gte=0),
                name="outcome_thickness_nonnegative",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True})
                    | Q(**{f"{name}__gte": 0, f"{name}__lte": 100}),
                    name=f"outcome_{name}_range",
                )
                for name in ("terminal_pct", "vellus_pct", "anagen_pct", "telogen_pct")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} in set {self.measurement_set_id}"


class OutcomeSummary(models.Model):
    """Derived, not clinical: one patient's outcome of one analytic measure, kept so clinic
    analytics read one row per patient instead of every measurement (issue 15).

    Baseline (mean of the baseline repeats) and latest follow-up at the patient's first measured
    site with the method measured most often, their change, and the responder status under every
    responder rule (``{rule: true | false | null}``). Written by ``outcome_summaries_refresh``
    whenever a measurement set is recorded (and by the backfill migration and the
    ``outcome_summaries`` command after bulk loads or a change of the rules file).
    """

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="outcome_summaries"
    )
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="+")
    measure = models.CharField(max_length=30)
    method = models.CharField(max_length=20, choices=Method.choices)
    baseline_on = models.DateField()
    follow_up_on = models.DateField()
    baseline = models.FloatField()
    follow_up = models.FloatField()
    change_absolute = models.FloatField()
    change_percent = models.FloatField()
    responders = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "measure"], name="outcome_summary_one_per_measure"
            )
        ]
        indexes = [models.Index(fields=["clinic", "measure", "patient"])]

    def __str__(self) -> str:
        return f"{self.measure} of patient {self.patient_id}"


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Preview"
    COMMITTED = "committed", "Imported"
    DISCARDED = "discarded", "Discarded"


class ImportBatch(models.Model):
    """A device CSV export: parsed into a preview first, then imported all at once or not at all."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="outcome_imports"
    )
    filename = models.CharField(max_length=200)
    mapping = models.JSONField(default=dict)
    density_unit = models.CharField(max_length=4, choices=AreaUnit.choices, default="cm2")
    device = models.CharField(max_length=80, blank=True)
    rows = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default="preview")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="outcome_import_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Device import ({self.get_status_display().lower()})"


# --- photos ----------------------------------------------------------------------------------


class PhotoView(models.TextChoices):
    FRONTAL = "frontal", "Frontal"
    TOP = "top", "Top, midline part"
    VERTEX = "vertex", "Vertex"
    LEFT = "left", "Left side"
    RIGHT = "right", "Right side"
    BACK = "back", "Back"
    CLOSE_UP = "close_up", "Close-up of the site"


class PhotoSet(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="photo_sets"
    )
    taken_on = models.DateField()
    notes = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["taken_on", "id"]
        indexes = [models.Index(fields=["patient", "taken_on"])]

    def __str__(self) -> str:
        from anagen.accounts.clinic_time import human_date

        return f"Photos {human_date(self.taken_on)}"


class Photo(models.Model):
    """A re-encoded image (no EXIF) stored under a random name; served only through an audited
    view that checks access and consent."""

    photo_set = models.ForeignKey(PhotoSet, on_delete=models.PROTECT, related_name="photos")
    view = models.CharField(max_length=12, choices=PhotoView.choices)
    file = models.FileField(upload_to="outcomes/photos/", max_length=200)
    thumbnail = models.FileField(upload_to="outcomes/thumbs/", max_length=200)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["photo_set__taken_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["photo_set", "view"], name="outcome_one_photo_per_view"
            ),
            models.CheckConstraint(
                condition=Q(width__gt=0, height__gt=0), name="outcome_photo_size_positive"
            ),
        ]

    def __str__(self) -> str:
        from anagen.accounts.clinic_time import human_date

        return f"{self.get_view_display()} {human_date(self.photo_set.taken_on)}"

    @cached_property
    def file_missing(self) -> bool:
        """True when the photo or its thumbnail is gone from storage (pages say so; no 500)."""
        for stored in (self.file, self.thumbnail):
            if not stored.name or not stored.storage.exists(stored.name):
                from anagen.outcomes.imaging import alert_missing_file

                alert_missing_file("photo", self.pk, stored.name)
                return True
        return False


# --- blinded rating ----------------------------------------------------------------------------


class RatingPanel(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    view = models.CharField(max_length=12, choices=PhotoView.choices, default="vertex")
    raters = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="rating_panels")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class RatingPair(models.Model):
    """A before/after pair shown unlabelled; which side is "before" is randomised and stored."""

    panel = models.ForeignKey(RatingPanel, on_delete=models.CASCADE, related_name="pairs")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    before = models.ForeignKey(Photo, on_delete=models.PROTECT, related_name="+")
    after = models.ForeignKey(Photo, on_delete=models.PROTECT, related_name="+")
    before_on_left = models.BooleanField()
    code = models.CharField(max_length=32, unique=True)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["panel", "position"]
        constraints = [
            models.CheckConstraint(condition=~Q(before=F("after")), name="outcome_pair_two_photos"),
        ]

    def __str__(self) -> str:
        return f"Pair {self.code}"


class Rating(models.Model):
    """``score`` is what the rater chose for "right compared with left"; ``change`` is the score
    turned into after-vs-before using the stored order."""

    pair = models.ForeignKey(RatingPair, on_delete=models.CASCADE, related_name="ratings")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.SmallIntegerField()
    change = models.SmallIntegerField()
    rated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair", "rater"], name="outcome_one_rating_per_rater"),
            models.CheckConstraint(
                condition=Q(score__gte=-3, score__lte=3), name="outcome_rating_score_range"
            ),
            # The change is the score read after-vs-before: the score or its opposite.
            models.CheckConstraint(
                condition=Q(change=F("score")) | Q(change=-F("score")),
                name="outcome_rating_change_matches_score",
            ),
        ]

    def __str__(self) -> str:
        return f"Rating {self.score:+d} of pair {self.pair_id}"


# --- reports -----------------------------------------------------------------------------------


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReportJob(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    patient_ids = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default="queued")
    total = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(done_count__lte=F("total")), name="outcome_report_done_le_total"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReportStatus.values), name="outcome_report_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Report batch {self.pk} ({self.get_status_display().lower()})"


class ReportFile(models.Model):
    job = models.ForeignKey(ReportJob, on_delete=models.CASCADE, related_name="files")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to="outcomes/reports/", max_length=200)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Report {self.pk} of batch {self.job_id}"


class LastMeasurement(models.Model):
    """Derived, not clinical: the date of a patient's latest measurement visit, kept so the
    home page's follow-ups read an index (clinic, date) instead of every patient (issue 15).

    One row per patient with at least one measurement set. Written by
    ``last_measurements_refresh`` whenever the measurement services record a visit (and by the
    backfill migration, the scale generator and an archive import with
    ``last_measurements_rebuild`` / ``_refresh``). Not carried by archives: made again from the
    measurement sets on import.
    """

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, related_name="last_measurement"
    )
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="+")
    measured_on = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["clinic", "measured_on"], name="last_measured_clinic_on")]

    def __str__(self) -> str:
        return f"last measured {self.measured_on} (patient {self.patient_id})"
