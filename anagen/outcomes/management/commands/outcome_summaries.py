"""`anagen outcome_summaries [--clinic SLUG]`: rebuild the per-patient outcome summaries that
clinic analytics read (after a bulk load such as ``bench_data``, or a change of the responder
rules file). The measurement services keep them current otherwise."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Rebuild the per-patient outcome summaries used by clinic analytics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clinic", default="", help="Only this clinic (its short name).")

    def handle(self, *args: object, **options: str) -> None:
        from anagen.accounts.clinic_time import clinic_time
        from anagen.accounts.models import Clinic
        from anagen.outcomes.services import outcome_summaries_rebuild

        clinics = Clinic.objects.order_by("pk")
        if options["clinic"]:
            clinics = clinics.filter(slug=options["clinic"])
            if not clinics.exists():
                raise CommandError(f"No clinic named {options['clinic']!r}.", returncode=2)
        for clinic in clinics:
            with clinic_time(clinic):
                written = outcome_summaries_rebuild(
                    clinic=clinic, progress=lambda line: self.stdout.write(line)
                )
            self.stdout.write(f"{clinic.name}: {written} outcome summaries")
