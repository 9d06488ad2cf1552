"""Bring one patient's record archive (made by Anagen's export) into a clinic of this database.

anagen import_archive ARCHIVE.zip --clinic SLUG [--user USERNAME] [--create-clinic]
    Writes the whole record back (see anagen/imports/archive.py), all or nothing. `--user`
    names the member who imports (they need the right to import patients); without it the audit
    records the command line. `--create-clinic` makes the clinic (and its organisation) from the
    archive's details when this database has no clinic SLUG: restoring into an empty instance.
    Importing an archive whose patient is already in the clinic is refused and changes nothing.
    Exit 0 when imported, 2 on bad input (one line saying why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership, Organisation
from anagen.accounts.permissions import Perm
from anagen.imports import archive


def _bad(message: str) -> CommandError:
    return CommandError(" ".join(message.split()), returncode=2)


def _message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


class Command(BaseCommand):
    help = "Import one patient's record archive (made by Anagen) into a clinic."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="the .zip archive made by the record export")
        parser.add_argument("--clinic", required=True, help="the slug of the clinic to import into")
        parser.add_argument("--user", help="user name of the member importing (optional)")
        parser.add_argument(
            "--create-clinic",
            action="store_true",
            help="create the clinic from the archive's details when it does not exist",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["archive"])
        if not path.is_file():
            raise _bad(f"{path}: no such file.")
        if path.stat().st_size > archive.MAX_ARCHIVE_BYTES:
            raise _bad(f"{path}: the archive is larger than 200 MB.")
        data = path.read_bytes()
        try:
            read = archive.archive_read(data)
        except ValidationError as exc:
            raise _bad(f"{path}: {_message(exc)}") from None
        slug = options["clinic"]
        clinic = Clinic.objects.filter(slug=slug).first()
        if clinic is None:
            if not options["create_clinic"]:
                raise _bad(
                    f"There is no clinic {slug!r} here; pass --create-clinic to make it from "
                    "the archive."
                )
            clinic = self._create_clinic(slug, read.data.get("export", {}))
        actor = None
        if options.get("user"):
            membership = (
                Membership.objects.filter(
                    clinic=clinic, user__username=options["user"], is_active=True
                )
                .select_related("user", "clinic")
                .first()
            )
            if membership is None:
                raise _bad(f"{options['user']!r} is not an active member of {slug!r}.")
            actor = Actor(user=membership.user, membership=membership, via="cli")
            try:
                actor.require(Perm.PATIENT_IMPORT)
            except PermissionDenied as exc:
                raise _bad(str(exc)) from None
        try:
            restored = archive.archive_import(clinic=clinic, data=data, actor=actor, via="cli")
        except ValidationError as exc:
            raise _bad(_message(exc)) from None
        rows = sum(restored.counts.values())
        made = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in restored.created.items())
        self.stdout.write(
            f"Imported {restored.patient.full_name} ({restored.patient.record_number}) into "
            f"{clinic.name}: {rows} rows" + (f"; created {made}" if made else "") + "."
        )

    @transaction.atomic
    def _create_clinic(self, slug: str, export: dict[str, Any]) -> Clinic:
        details = export.get("clinic_details") or {}
        if not details.get("name"):
            raise _bad("The archive does not say which clinic it came from; create the clinic.")
        org, _ = Organisation.objects.get_or_create(
            slug=details.get("organisation_slug") or slug,
            defaults={"name": details.get("organisation") or details["name"]},
        )
        fields = (
            "record_prefix",
            "timezone",
            "currency",
            "default_phone_region",
            "holiday_country",
            "holiday_region",
        )
        return Clinic.objects.create(
            organisation=org,
            slug=slug,
            name=details["name"],
            **{k: details[k] for k in fields if details.get(k) is not None},
        )
