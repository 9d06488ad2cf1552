"""`anagen bench_data --patients N`: generate a busy clinic for the page benchmarks."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Fill the database with a busy clinic of N patients for benchmarks (never production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, required=True, help="How many patients.")
        parser.add_argument("--seed", type=int, default=15, help="Random seed (default 15).")
        parser.add_argument(
            "--audit-per-patient",
            type=int,
            default=50,
            help="Audit events written per patient (default 50).",
        )

    def handle(self, *args: object, **options: int) -> None:
        from anagen.scale.generate import generate

        if options["patients"] < 1:
            raise CommandError("--patients must be at least 1", returncode=2)
        if options["audit_per_patient"] < 0:
            raise CommandError("--audit-per-patient cannot be negative", returncode=2)
        result = generate(
            options["patients"],
            seed=options["seed"],
            audit_per_patient=options["audit_per_patient"],
            progress=lambda line: self.stdout.write(line),
        )
        self.stdout.write(
            f"{result.patients} patients, {result.appointments} appointments and "
            f"{result.audit_events} audit events in {result.clinic.name} "
            f"in {result.seconds:.0f} s; long history: {result.long_patient.record_number}, "
            f"new patient: {result.new_patient.record_number}"
        )
