"""Booking at scale (issue 15 item 5): `uv run python benchmarks/booking.py`.

A clinic of 20 practitioners, 40 rooms and 7 centrifuges (Mon–Fri 9:00–17:30) whose next 8
weeks are ~80 % full: each day is packed first fit with a mix of PRP, mesotherapy and
consultation visits until nothing more fits, then 80 % of those visits are kept (the free fifth
lies in visit-sized holes, as in a real diary; the figures name the resulting share of
practitioner and room time). Rows are written in bulk exactly as the booking service writes them:
one appointment per visit, one resource booking per resource and visit (a resource's touching
phases are one hold). Then, in one run:

1. booking a 3-session series (``plan_book_series``, prp-aga-monthly-3, the free-slot search
   included) for SAMPLE patients one after another, start dates spread over the 8 full weeks:
   median / p95 / max wall time and the SQL queries of one series;
2. booking SERIES series (default 10,000) across the 20 practitioners, start dates spread over a
   year, in one batch (``plan_book_series_batch``, the path of ``anagen book_series``): total
   time, SQL statements, booked, conflicts, series with no free slot in a window, and overlaps
   counted afterwards by a query (resources and patients);
3. the calendar week (/calendar/ as it opens: a clinic this size opens the week on one
   practitioner's column per day) with ~2,000 appointments in the week against the bare
   signed-in view /session/ping, interleaved in the same run (in-process test client, no HTTP
   server): median and p95 of each, the ratio and the query counts.

Runs on a throwaway SQLite database in a temporary folder (migrated here), or on the database
named by BENCH_DATABASE_URL (an empty scratch database: this script writes to it). Knobs:
BENCH_SERIES, BENCH_SAMPLE, BENCH_PARTS (e.g. "single,batch"), BENCH_PROFILE ("single" or
"batch": a profile of that part).
"""

from __future__ import annotations

import datetime as dt
import os
import random
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
from django.core.exceptions import ValidationError  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

PRACTITIONERS, ROOMS, CENTRIFUGES = 20, 40, 7
WEEKS = 8
FULL = 0.80  # of practitioner time
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "200"))
SERIES = int(os.environ.get("BENCH_SERIES", "10000"))
# Which parts run (comma-separated): single, calendar, batch.
PARTS = set(os.environ.get("BENCH_PARTS", "single,calendar,batch").split(","))
WEEK_APPOINTMENTS = 2000
PROTOCOL = "prp-aga-monthly-3"
OPEN, CLOSE = dt.time(9, 0), dt.time(17, 30)
STEP = 15  # minutes


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    call_command("migrate", verbosity=0)

    from anagen.accounts.access import Actor
    from anagen.accounts.clinic_time import zone_of
    from anagen.accounts.models import Clinic, Membership, Organisation, Role, User
    from anagen.accounts.testing import sign_in
    from anagen.clinical import PROCEDURES
    from anagen.patients.models import Patient
    from anagen.scheduling import availability as av
    from anagen.scheduling import calendar_version, services
    from anagen.scheduling.models import Appointment, Resource, ResourceBooking, WorkingHours

    org = Organisation.objects.create(name="Bench", slug="bench")
    clinic = Clinic.objects.create(organisation=org, name="Bench", slug="bench", record_prefix="B")
    tz = zone_of(clinic)
    users = {}
    for role in Role:
        u = User.objects.create_user(username=f"b.{role.value}", password="x" * 16)
        Membership.objects.create(user=u, clinic=clinic, role=role)
        users[role.value] = u
    physician = Actor(users["physician"], Membership.objects.get(user=users["physician"]))

    # --- the clinic -----------------------------------------------------------------------
    practitioners = []
    for i in range(PRACTITIONERS):
        u = User.objects.create_user(username=f"b.prac{i}", password="x" * 16)
        m = Membership.objects.create(user=u, clinic=clinic, role=Role.PHYSICIAN)
        practitioners.append(
            Resource.objects.create(
                clinic=clinic,
                kind="practitioner",
                name=f"Practitioner {i:02d}",
                membership=m,
                licensed_procedures=list(PROCEDURES),
            )
        )
    rooms = [
        Resource.objects.create(clinic=clinic, kind="room", name=f"Room {i:02d}")
        for i in range(ROOMS)
    ]
    spins = [
        Resource.objects.create(
            clinic=clinic, kind="centrifuge", name=f"Centrifuge {i}", rotor_radius_cm=10
        )
        for i in range(CENTRIFUGES)
    ]
    WorkingHours.objects.bulk_create(
        WorkingHours(resource=r, weekday=d, start=OPEN, end=CLOSE)
        for r in [*practitioners, *rooms, *spins]
        for d in range(5)
    )
    n_patients = 3000 + SAMPLE + SERIES
    Patient.all_objects.bulk_create(
        (
            Patient(
                clinic=clinic,
                record_number=f"B{i:07d}",
                given_name=f"P{i}",
                family_name="Bench",
                search_name=f"p{i} bench",
                birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=i % 15000),
                sex="male",
            )
            for i in range(n_patients)
        ),
        batch_size=2000,
    )
    patient_ids = list(
        Patient.all_objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True)
    )
    fill_pool, sample_pool, series_pool = (
        patient_ids[:3000],
        patient_ids[3000 : 3000 + SAMPLE],
        patient_ids[3000 + SAMPLE :],
    )

    # --- fill the next 8 weeks to ~80 % of practitioner time ------------------------------
    rng = random.Random(15)
    today = timezone.now().astimezone(tz).date()
    first_day = today + dt.timedelta(days=1)
    days = [
        first_day + dt.timedelta(days=i)
        for i in range(WEEKS * 7)
        if (first_day + dt.timedelta(days=i)).weekday() < 5
    ]
    slots = (dt.datetime.combine(today, CLOSE) - dt.datetime.combine(today, OPEN)).seconds // 60
    slots //= STEP  # 15-minute cells per working day
    layouts = {
        "prp_scalp": av.layout("prp_scalp", PROTOCOL),
        "mesotherapy_scalp": av.layout("mesotherapy_scalp"),
        "": av.layout(""),
    }
    appts: list[Appointment] = []
    holds: list[tuple[int, list[tuple[int, str, int, int]]]] = []  # (appt index, holds)
    practitioner_cells = 0
    patient_i = 0
    for day in days:
        # Pack the day full (first fit, 15-minute starts, a mix of visits), then keep 80 % of
        # the visits: the free fifth is scattered in visit-sized holes, as in a real diary.
        busy = {r.pk: [False] * slots for r in [*practitioners, *rooms, *spins]}
        placed: list[tuple[int, str, dict[str, Resource]]] = []
        for s0 in range(slots):
            misses = 0
            while misses < 3:
                procedure = rng.choice(["prp_scalp", "prp_scalp", "mesotherapy_scalp", ""])
                lay = layouts[procedure]
                if s0 + av.duration_minutes(lay) // STEP > slots:
                    misses += 1
                    continue
                chosen: dict[str, Resource] = {}
                for need_role, pool in (
                    ("practitioner", practitioners),
                    ("room", rooms),
                    ("centrifuge", spins),
                ):
                    need = [
                        (h.start_min // STEP, h.end_min // STEP) for h in lay if h.role == need_role
                    ]
                    if not need:
                        continue
                    order = pool[:]
                    rng.shuffle(order)
                    for r in order:
                        cells = busy[r.pk]
                        if all(not cells[s0 + k] for a, b in need for k in range(a, b)):
                            chosen[need_role] = r
                            break
                if set(chosen) != {h.role for h in lay}:
                    misses += 1
                    continue
                for h in lay:
                    for k in range(h.start_min // STEP, h.end_min // STEP):
                        busy[chosen[h.role].pk][s0 + k] = True
                placed.append((s0, procedure, chosen))
        for s0, procedure, chosen in rng.sample(placed, round(len(placed) * FULL)):
            lay = layouts[procedure]
            hold_rows = []
            for h in lay:
                hold_rows.append((chosen[h.role].pk, h.phase, h.start_min, h.end_min))
                if h.role == "practitioner":
                    practitioner_cells += (h.end_min - h.start_min) // STEP
            start = dt.datetime.combine(day, OPEN, tzinfo=tz) + dt.timedelta(minutes=s0 * STEP)
            start = start.astimezone(dt.UTC)
            appts.append(
                Appointment(
                    clinic=clinic,
                    patient_id=fill_pool[patient_i % len(fill_pool)],
                    kind="maintenance" if procedure else "consultation",
                    procedure=procedure,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=av.duration_minutes(lay)),
                    practitioner=chosen["practitioner"],
                    room=chosen["room"],
                    centrifuge=chosen.get("centrifuge"),
                    history=[],
                )
            )
            patient_i += 1
            holds.append((len(appts) - 1, hold_rows))
    t0 = time.perf_counter()
    Appointment.objects.bulk_create(appts, batch_size=2000)
    ResourceBooking.objects.bulk_create(
        (
            ResourceBooking(
                appointment=appts[i],
                resource_id=rid,
                phase=phase,
                starts_at=appts[i].starts_at + dt.timedelta(minutes=a),
                ends_at=appts[i].starts_at + dt.timedelta(minutes=b),
            )
            for i, rows in holds
            for rid, phase, a, b in rows
        ),
        batch_size=5000,
    )
    # Bulk writes send no signals: replace the calendar's version token (as the services do on
    # commit; here in autocommit, at once) so no grid cached before the fill is shown.
    calendar_version.bump(clinic.pk)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    fill_seconds = time.perf_counter() - t0
    n_bookings = ResourceBooking.objects.count()
    fullness = practitioner_cells / (PRACTITIONERS * slots * len(days))
    room_cells = sum(
        (b - a) // STEP
        for _i, rows in holds
        for rid, _p, a, b in rows
        if rid in {r.pk for r in rooms}
    )
    room_full = room_cells / (ROOMS * slots * len(days))
    print(f"database: {connection.vendor}")
    print(
        f"calendar: {len(appts)} appointments, {n_bookings} resource bookings over {len(days)} "
        f"working days; practitioner time {fullness:.0%} full, rooms {room_full:.0%} "
        f"(written in {fill_seconds:.1f} s)"
    )

    # --- 1. one series at a time into the full calendar -----------------------------------
    if "single" in PARTS:
        patients = {p.pk: p for p in Patient.objects.filter(pk__in=sample_pool + series_pool[:1])}
        times = []
        outcomes = {"booked": 0, "conflict": 0, "no slot": 0}
        queries = 0
        profiler = None
        if os.environ.get("BENCH_PROFILE") == "single":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for pid in sample_pool:
            start_on = days[rng.randrange(len(days))]
            t0 = time.perf_counter()
            try:
                with CaptureQueriesContext(connection) as q:
                    services.plan_book_series(
                        actor=physician,
                        patient=patients[pid],
                        protocol_id=PROTOCOL,
                        start_on=start_on,
                    )
                if not queries and os.environ.get("BENCH_SHOW_QUERIES"):
                    for one in q.captured_queries:
                        print("   ", one["time"], one["sql"][:150])
                queries = queries or len(q)
                outcomes["booked"] += 1
            except services.BookingConflict:
                outcomes["conflict"] += 1
            except ValidationError as exc:
                outcomes["no slot"] += 1
                if outcomes["no slot"] <= 3:
                    print("  no slot:", exc.messages)
            times.append(time.perf_counter() - t0)
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        load_1 = os.getloadavg()[0]
        line1 = (
            f"book a 3-session series into the {fullness:.0%}-full calendar, {SAMPLE} one after "
            f"another: median {statistics.median(times) * 1000:.1f} ms, p95 "
            f"{pct(times, 0.95) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms, {queries} SQL "
            f"queries per series; {outcomes} (load average {load_1:.1f})"
        )
        print(line1)

    # --- 3. the week calendar with ~2,000 appointments ------------------------------------
    if "calendar" in PARTS:
        week_start = days[0] + dt.timedelta(days=7 - days[0].weekday())
        lo = dt.datetime.combine(week_start, dt.time(0), tzinfo=tz)
        hi = lo + dt.timedelta(days=7)
        in_week = Appointment.objects.filter(starts_at__gte=lo, starts_at__lt=hi).count()
        extra = []
        for i in range(max(0, WEEK_APPOINTMENTS - in_week)):  # rows only, early and late slots
            day = week_start + dt.timedelta(days=i % 5)
            at = dt.datetime.combine(day, dt.time(7, 0), tzinfo=tz) + dt.timedelta(
                minutes=15 * (i // 5 % 8)
            )
            extra.append(
                Appointment(
                    clinic=clinic,
                    patient_id=fill_pool[i % len(fill_pool)],
                    kind="consultation",
                    starts_at=at,
                    ends_at=at + dt.timedelta(minutes=15),
                    practitioner=practitioners[i % PRACTITIONERS],
                    room=rooms[i % ROOMS],
                    status="booked",
                    history=[],
                )
            )
        if extra:
            Appointment.objects.bulk_create(extra)
            calendar_version.bump(clinic.pk)
        in_week = Appointment.objects.filter(starts_at__gte=lo, starts_at__lt=hi).count()
        client = sign_in(Client(), users["front_desk"])
        urls = {
            "calendar": f"/calendar/?view=week&date={week_start.isoformat()}",
            "bare": "/session/ping",
        }
        for url in urls.values():  # warm up (session renewal, caches)
            client.get(url)
            client.get(url)
        page: dict[str, list[float]] = {k: [] for k in urls}
        nq: dict[str, int] = {}
        for _ in range(15):
            for name, url in urls.items():
                with CaptureQueriesContext(connection) as q:
                    t0 = time.perf_counter()
                    response = client.get(url)
                    page[name].append(time.perf_counter() - t0)
                assert response.status_code in (200, 204), (url, response.status_code)
                nq[name] = len(q)
        load_3 = os.getloadavg()[0]
        cal_med, bare_med = statistics.median(page["calendar"]), statistics.median(page["bare"])
        line3 = (
            f"calendar week (per practitioner) with {in_week} appointments: median "
            f"{cal_med * 1000:.1f} ms (p95 {pct(page['calendar'], 0.95) * 1000:.1f}), "
            f"{nq['calendar']} queries; bare signed-in view median {bare_med * 1000:.1f} ms "
            f"({nq['bare']} queries); "
            f"ratio {cal_med / bare_med:.1f}x (load average {load_3:.1f})"
        )
        print(line3)

    # --- 2. many series across the 20 practitioners, in one batch -------------------------
    # The clinic's batch path (``plan_book_series_batch``, what ``anagen book_series`` runs):
    # one transaction, the resources locked once, the search kept in memory, bulk inserts.
    horizon = [today + dt.timedelta(days=1 + i) for i in range(365)]
    horizon = [d for d in horizon if d.weekday() < 5]
    work = [(pid, horizon[rng.randrange(len(horizon))]) for pid in series_pool]
    requests = [services.SeriesRequest(pid, PROTOCOL, start_on) for pid, start_on in work]
    counts = {"booked": 0, "conflict": 0, "no slot": 0, "error": 0}
    errors: list[str] = []
    statements = [0]

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return execute(sql, params, many, context)

    profiler = None
    if os.environ.get("BENCH_PROFILE") == "batch":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    phases = ""
    t0 = time.perf_counter()
    try:
        with connection.execute_wrapper(count):
            result = services.plan_book_series_batch(actor=physician, requests=requests)
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
        counts["booked"] = len(result.booked)
        for o in result.not_booked:
            counts["no slot" if o.field == "choices" else "error"] += 1
            if o.field != "choices" and len(errors) < 5:
                errors.append(o.message)
    except services.BookingConflict:
        counts["conflict"] = SERIES
    total = time.perf_counter() - t0
    batch_queries = statements[0]
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    load_2 = os.getloadavg()[0]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM scheduling_resourcebooking a JOIN scheduling_resourcebooking b "
            "ON a.resource_id = b.resource_id AND a.id < b.id AND a.active AND b.active "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        )
        overlaps = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM scheduling_appointment a JOIN scheduling_appointment b "
            "ON a.patient_id = b.patient_id AND a.id < b.id "
            "AND a.status NOT IN ('cancelled', 'no_show') "
            "AND b.status NOT IN ('cancelled', 'no_show') "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        )
        patient_overlaps = cur.fetchone()[0]
    line2 = (
        f"book {SERIES} series across {PRACTITIONERS} practitioners in one batch: {total:.1f} s "
        f"total ({total / max(1, SERIES) * 1000:.2f} ms per series; {phases}; {batch_queries} "
        f"SQL statements); {counts}; {overlaps} resource overlaps, {patient_overlaps} patient "
        f"overlaps (load average {load_2:.1f})"
    )
    print(line2)
    if errors:
        print("errors:", errors)


if __name__ == "__main__":
    main()
