"""Outcome records: measured sites, measurement sets, standardised photos, rating panels, reports.

Units are explicit and single: areas in cm², densities in hairs/cm², diameters in µm,
cumulative thickness in mm/cm². What a person typed in another unit (inch²) is converted at the
edge by the clinical kernel and only the unit they used is kept beside the canonical value.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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
        ]

    def __str__(self) -> str:
        return f"{self.get_visit_label_display()} {self.measured_on} ({self.get_method_display()})"


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
            )
        ]

    def __str__(self) -> str:
        return f"{self.site} in set {self.measurement_set_id}"


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

    def __str__(self) -> str:
        return f"Import {self.filename} ({self.status})"


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
        return f"Photos {self.taken_on}"


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
            models.UniqueConstraint(fields=["photo_set", "view"], name="outcome_one_photo_per_view")
        ]

    def __str__(self) -> str:
        return f"{self.get_view_display()} {self.photo_set.taken_on}"


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

    def __str__(self) -> str:
        return f"Report batch {self.pk} ({self.status})"


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
