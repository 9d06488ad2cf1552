"""Writes for outcomes: measurements, device imports, photos, rating panels, report jobs.

Every write runs in one transaction with its audit event. A package by topic; every public name
(and the private helpers other modules use) is re-exported here, so both
``from anagen.outcomes import services; services.photo_add`` and
``from anagen.outcomes.services import photo_add`` keep working.
"""

from __future__ import annotations

from anagen.outcomes.services._common import _check_patient, _dec
from anagen.outcomes.services.imports import (
    _DATE_FORMATS,
    FIELD_LABELS,
    IMPORT_FIELDS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_IMPORT_FIELDS,
    _check_pair,
    _parse_date,
    _parse_number,
    import_commit,
    import_parse,
    import_preview,
)
from anagen.outcomes.services.last_measured import (
    last_measurements_rebuild,
    last_measurements_refresh,
)
from anagen.outcomes.services.measurements import (
    DENSITY_TOLERANCE,
    SiteValues,
    VisitValues,
    _pct,
    _site_fields,
    _site_for,
    _visit_fields,
    measurement_set_record,
    site_create,
)
from anagen.outcomes.services.photos import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_EDGE,
    MAX_PHOTO_PIXELS,
    PHOTO_PURPOSES,
    THUMB_EDGE,
    PhotoFileMissing,
    _reencode,
    _require_photo_consent,
    photo_add,
    photo_consent_required,
    photo_read,
    photo_set_create,
)
from anagen.outcomes.services.ratings import (
    RATER_PERM,
    eligible_raters,
    rating_panel_create,
    rating_submit,
)
from anagen.outcomes.services.reports import (
    MAX_REPORT_BATCH,
    _enqueue,
    report_file_read,
    report_job_start,
)
from anagen.outcomes.services.summaries import (
    outcome_summaries_rebuild,
    outcome_summaries_refresh,
)

__all__ = [
    "DENSITY_TOLERANCE",
    "FIELD_LABELS",
    "IMPORT_FIELDS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_EDGE",
    "MAX_PHOTO_PIXELS",
    "MAX_REPORT_BATCH",
    "PHOTO_PURPOSES",
    "RATER_PERM",
    "REQUIRED_IMPORT_FIELDS",
    "THUMB_EDGE",
    "_DATE_FORMATS",
    "PhotoFileMissing",
    "SiteValues",
    "VisitValues",
    "_check_pair",
    "_check_patient",
    "_dec",
    "_enqueue",
    "_parse_date",
    "_parse_number",
    "_pct",
    "_reencode",
    "_require_photo_consent",
    "_site_fields",
    "_site_for",
    "_visit_fields",
    "eligible_raters",
    "import_commit",
    "import_parse",
    "import_preview",
    "last_measurements_rebuild",
    "last_measurements_refresh",
    "measurement_set_record",
    "outcome_summaries_rebuild",
    "outcome_summaries_refresh",
    "photo_add",
    "photo_consent_required",
    "photo_read",
    "photo_set_create",
    "rating_panel_create",
    "rating_submit",
    "report_file_read",
    "report_job_start",
    "site_create",
]
