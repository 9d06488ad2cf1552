"""Booking benchmarks: `uv run python benchmarks/booking.py`.

Figures printed:
- booking a 3-session series (`plan_book_series`, prp-aga-monthly-3, free-slot search included):
  median and p95 wall time over many patients booked one after another into a filling calendar;
- the calendar week view with 500 appointments in the week: SQL query count and median time.

Runs on a throwaway SQLite database in a temporary folder (migrated here), or on the database
named by BENCH_DATABASE_URL (it must be an empty scratch database: this script writes to it).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="anagen-bench-")
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("ANAGEN_VAR_DIR", _tmp)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

SERIES = 40
WEEK_APPOINTMENTS = 500


def main() -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)

    from anagen.accounts.access import Actor
    from anagen.accounts.models import Clinic, Membership, Organisation, Role, User
    from anagen.patients.services import patient_create
    from anagen.scheduling import services
    from anagen.scheduling.models import Appointment, Resource
    from anagen.scheduling.tests.conftest import make_kit

    org = Organisation.objects.create(name="Bench", slug="bench")
    clinic = Clinic.objects.create(organisation=org, name="Bench", slug="bench", record_prefix="B")
    users = {}
    for role in Role:
        u = User.objects.create_user(username=f"b.{role.value}", password="x" * 16)
        Membership.objects.create(user=u, clinic=clinic, role=role)
        users[role.value] = u

    class Staff:
        pass

    staff = Staff()
    staff.clinic = clinic  # type: ignore[attr-defined]
    staff.physician, staff.nurse = users["physician"], users["nurse"]  # type: ignore[attr-defined]
    kit = make_kit(staff)
    desk = Actor(users["front_desk"], Membership.objects.get(user=users["front_desk"]))
    physician = Actor(users["physician"], Membership.objects.get(user=users["physician"]))

    patients = [
        patient_create(
            actor=desk,
            data={
                "given_name": f"P{i}",
                "family_name": "Bench",
                "birth_date": dt.date(1980, 1, 1) + dt.timedelta(days=i),
                "sex": "male",
            },
            confirm_duplicate=True,
        )
        for i in range(SERIES + WEEK_APPOINTMENTS)
    ]
    today = timezone.now().date()
    start = today + dt.timedelta(days=14 - today.weekday())
    times = []
    for p in patients[:SERIES]:
        t0 = time.perf_counter()
        services.plan_book_series(
            actor=physician, patient=p, protocol_id="prp-aga-monthly-3", start_on=start
        )
        times.append(time.perf_counter() - t0)
    times.sort()

    # 500 appointments in one week (rows only: the week view reads appointments, not bookings).
    week = start + dt.timedelta(days=140)
    week_start = week - dt.timedelta(days=week.weekday())
    extra_rooms = [
        Resource.objects.create(clinic=clinic, kind="room", name=f"Room {i + 3}") for i in range(20)
    ]
    rows = []
    for i, p in enumerate(patients[SERIES:]):
        at = timezone.make_aware(
            dt.datetime.combine(week_start + dt.timedelta(days=i % 7), dt.time(8 + i % 10)),
        )
        rows.append(
            Appointment(
                clinic=clinic,
                patient=p,
                kind="consultation",
                starts_at=at,
                ends_at=at + dt.timedelta(minutes=30),
                practitioner=kit.physician if i % 2 else kit.nurse,
                room=extra_rooms[i % 20],
            )
        )
    Appointment.objects.bulk_create(rows)
    in_week = Appointment.objects.filter(
        starts_at__date__gte=week_start, starts_at__date__lt=week_start + dt.timedelta(days=7)
    ).count()
    client = Client()
    client.force_login(users["front_desk"])
    url = f"/calendar/?view=week&date={week_start.isoformat()}"
    page_times = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as q:
            t0 = time.perf_counter()
            response = client.get(url)
            page_times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
    queries = len(q)

    print(f"database: {connection.vendor}")
    print(
        f"book a 3-session series (prp-aga-monthly-3), {SERIES} series into a filling calendar: "
        f"median {statistics.median(times) * 1000:.1f} ms, "
        f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.1f} ms, "
        f"max {times[-1] * 1000:.1f} ms"
    )
    print(
        f"calendar week view with {in_week} appointments in the week: {queries} SQL queries, "
        f"median {statistics.median(page_times) * 1000:.1f} ms per page"
    )


if __name__ == "__main__":
    main()
