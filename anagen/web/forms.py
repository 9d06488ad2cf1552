"""Helpers shared by page forms."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form


def attach_errors(form: Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form, field by field where it can."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
