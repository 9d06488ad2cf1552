"""Page benchmark (issue 15): every page a user waits on, at clinic scale, against the floor.

    uv run --frozen python benchmarks/pages.py [--patients 100000] [--requests 200]

Serves the app with gunicorn (2 workers, as in production) on the database named by
BENCH_DATABASE_URL (default: the SQLite file var/bench/pages.sqlite3), generating a busy clinic
with `anagen bench_data` first when the database has none. For the new, a typical and the
long-history patient, and for the clinic-wide pages, it reports the median, p95 and p99 time,
the SQL query count, and the ratio of the p95 to the bare signed-in view (/session/ping) measured
in the same run: each page request is followed by a bare request from the same client, so the
ratio holds on a busy machine. The table goes to benchmarks/results/pages.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import http.client
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "bench"
VAR.mkdir(parents=True, exist_ok=True)
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", f"sqlite:///{VAR / 'pages.sqlite3'}"
)
os.environ.setdefault("ANAGEN_VAR_DIR", str(VAR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")
os.environ["DEBUG"] = "0"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

TARGET_RATIO = 3.0
RESULTS = ROOT / "benchmarks" / "results" / "pages.md"


@dataclass
class Page:
    label: str
    who: str  # which patient, or "clinic"
    url: str
    role: str = "physician"  # whose session: money and the audit trail are the admin's
    queries: int = 0
    status: int = 0
    times: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    errors: int = 0
    # A picture a page links to is measured at the address that page gives (as a browser asks).
    linked_from: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _series_key(patient) -> str:
    from anagen.accounts.access import Actor
    from anagen.accounts.models import Membership
    from anagen.outcomes import selectors

    membership = Membership.objects.get(user__username=f"{patient.clinic.slug}.physician")
    found = selectors.series_for(
        actor=Actor(user=membership.user, membership=membership), patient=patient
    )
    return found[0].key if found else "none"


def _patient_pages(who: str, patient) -> list[Page]:
    from anagen.patients.models import Intake
    from anagen.procedures.models import TreatmentSession

    pid = patient.pk
    chart = reverse("outcomes-progress-chart", args=[pid]) + f"?series={_series_key(patient)}"
    pages = [
        Page("chart", who, reverse("patient-detail", args=[pid])),
        Page("consents", who, reverse("care-consent-list", args=[pid])),
        Page("measurements", who, reverse("outcomes-measurements", args=[pid])),
        Page("progress", who, reverse("outcomes-progress", args=[pid])),
        Page(
            "progress chart",
            who,
            chart,
            linked_from=reverse("outcomes-progress", args=[pid]),
        ),
        Page("photo sets", who, reverse("outcomes-photos", args=[pid])),
        Page("money", who, reverse("billing-patient", args=[pid]), "admin"),
        Page("audit for patient", who, reverse("audit-list") + f"?patient={pid}", "admin"),
        Page("API patient", who, f"/api/v1/patients/{pid}"),
        Page("API measurements", who, f"/api/v1/outcomes/patients/{pid}/measurements"),
        Page("API progress", who, f"/api/v1/outcomes/patients/{pid}/progress"),
        Page("API consents", who, f"/api/v1/care/patients/{pid}/consents"),
        Page("API appointments", who, f"/api/v1/scheduling/appointments?patient={pid}"),
        Page("API photo sets", who, f"/api/v1/outcomes/patients/{pid}/photo-sets"),
        Page("API sessions", who, f"/api/v1/procedures/sessions?patient_id={pid}"),
        Page("intake form (new version)", who, reverse("intake-create", args=[pid])),
    ]
    intake = Intake.objects.filter(patient=patient).order_by("-version").first()
    if intake is not None:
        pages.append(Page("intake", who, reverse("intake-detail", args=[pid, intake.version])))
    session = TreatmentSession.objects.filter(patient=patient).order_by("-pk").first()
    if session is not None:
        pages.append(
            Page(
                "session record", who, reverse("procedures-session-detail", args=[pid, session.pk])
            )
        )
    return pages


def _clinic_pages(patient) -> list[Page]:
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    return [
        # A control, not a page: the bare view measured as if it were one. Its ratio is what a
        # page costing nothing gets under this interleaving (the floor of the ratio itself).
        Page("control: bare view as a page", "clinic", "/session/ping"),
        Page("home", "clinic", reverse("home")),
        Page("search by name", "clinic", reverse("patient-list") + f"?q={patient.family_name}"),
        Page("search by phone", "clinic", reverse("patient-list") + f"?q={patient.phone[-6:]}"),
        Page("search by record", "clinic", reverse("patient-list") + f"?q={patient.record_number}"),
        Page("calendar week", "clinic", reverse("calendar") + f"?date={monday}"),
        Page("calendar day", "clinic", reverse("calendar") + f"?view=day&date={monday}"),
        Page("audit log", "clinic", reverse("audit-list"), "admin"),
        Page("analytics", "clinic", reverse("outcomes-analytics")),
        Page("API appointments", "clinic", "/api/v1/scheduling/appointments"),
        Page("API plans", "clinic", "/api/v1/scheduling/plans"),
        Page("API lots", "clinic", "/api/v1/procedures/lots"),
        Page("API patients", "clinic", "/api/v1/patients"),
    ]


def benchmark_pages():
    """The generated clinic and every page the benchmark times: the clinic-wide pages, then each
    patient's (the new one, a typical one with sessions, the planted long history).
    Also used by benchmarks/page_profile.py."""
    from anagen.patients.models import Patient
    from anagen.scale.generate import LONG_RECORD

    long_patient = Patient.all_objects.get(record_number=LONG_RECORD)
    clinic = long_patient.clinic
    new_patient = Patient.all_objects.get(clinic=clinic, family_name="Newcombe")
    typical = (
        Patient.all_objects.filter(clinic=clinic, record_number__startswith=clinic.record_prefix)
        .exclude(pk__in=[long_patient.pk, new_patient.pk])
        .filter(treatment_sessions__isnull=False)
        .order_by("-pk")
        .first()
    )
    pages = _clinic_pages(typical)
    for who, patient in (("new", new_patient), ("typical", typical), ("long", long_patient)):
        pages += _patient_pages(who, patient)
    return clinic, pages


def _signed_in_client(username: str) -> tuple[Client, str, str]:
    """A session and an API token for the benchmark's physician, made as staff would."""
    from anagen.accounts.models import Membership
    from anagen.accounts.services import api_token_create
    from anagen.accounts.testing import sign_in

    membership = Membership.objects.select_related("user").get(user__username=username)
    client = Client(HTTP_HOST="localhost")
    sign_in(client, membership.user)  # with the second factor passed, as staff sign in
    client.get("/")  # the first request settles the active clinic in the session
    _, token = api_token_create(membership=membership, name=f"bench {time.time():.0f}", days=1)
    return client, client.cookies["sessionid"].value, token


def _linked_address(client: Client, source: str, fallback: str) -> str:
    """The address `source` links to for the picture `fallback` names (same path and series)."""
    path, _, query = fallback.partition("?")
    wanted = parse_qs(query)
    body = client.get(source).content.decode()
    for match in re.finditer(r'src="([^"]+)"', body):
        address = html.unescape(match.group(1))
        linked_path, _, linked_query = address.partition("?")
        found = parse_qs(linked_query)
        if linked_path == path and all(found.get(k) == v for k, v in wanted.items()):
            return address
    return fallback


def _count_queries(sessions: dict[str, tuple[Client, str, str]], pages: list[Page]) -> None:
    logging.disable(logging.WARNING)  # a refused page is reported in the table, not logged
    for page in pages:
        client, _, token = sessions[page.role]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if page.url.startswith("/api/") else {}
        if page.linked_from:
            page.url = _linked_address(client, page.linked_from, page.url)
        client.get(page.url, **headers)  # warm: a chart is drawn on its first read only
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(page.url, **headers)
        page.queries, page.status = len(ctx), response.status_code
    logging.disable(logging.NOTSET)


def _serve(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "anagen.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/session/ping")
            if c.getresponse().status == 204:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start within 60 s")


def _worker_peaks_mb(server: subprocess.Popen[bytes]) -> list[float]:
    """Each gunicorn worker's peak resident memory so far (VmHWM), in MB: the issue's 500 MB cap."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    peaks = []
    for pid in children.read_text().split() if children.exists() else []:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return sorted(peaks)


def _get(conn: http.client.HTTPConnection, url: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    conn.request("GET", url, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def _measure(port: int, page: Page, cookie: str, token: str, requests: int, workers: int) -> None:
    headers = {"Cookie": f"sessionid={cookie}", "Host": "localhost"}
    if page.url.startswith("/api/"):
        headers = {"Authorization": f"Bearer {token}", "Host": "localhost"}
    bare_headers = {"Cookie": f"sessionid={cookie}", "Host": "localhost"}
    lock = threading.Lock()

    def warm() -> None:  # unmeasured: a worker's first view compiles templates, fills caches
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(2):
            _get(conn, page.url, headers)

    warmers = [threading.Thread(target=warm) for _ in range(workers)]
    for t in warmers:
        t.start()
    for t in warmers:
        t.join()
    left = [requests]

    def work() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            status, ms = _get(conn, page.url, headers)
            _, bare_ms = _get(conn, "/session/ping", bare_headers)
            with lock:
                page.times.append(ms)
                page.bare.append(bare_ms)
                page.errors += status >= 400

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _floors(port: int, cookie: str, requests: int) -> tuple[float, float, float, float]:
    """The bare view anonymous and signed in, one request at a time, alternating, on the idle
    server: (anonymous median, signed-in median, anonymous p95, signed-in p95)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    anonymous, signed_in = [], []
    for _ in range(requests):
        anonymous.append(_get(conn, "/session/ping", {"Host": "localhost"})[1])
        headers = {"Cookie": f"sessionid={cookie}", "Host": "localhost"}
        signed_in.append(_get(conn, "/session/ping", headers)[1])
    return (
        statistics.median(anonymous),
        statistics.median(signed_in),
        _pct(anonymous, 95),
        _pct(signed_in, 95),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000, help="generate this many if empty")
    parser.add_argument("--requests", type=int, default=100, help="requests per page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--only",
        default="",
        help="measure only pages whose label has one of these (comma-separated); their rows "
        "replace the same rows of the existing table, marked with the time of the re-run",
    )
    parser.add_argument("--who", default="", help="only these patients (new,typical,long,clinic)")
    parser.add_argument("--skip", default="", help="leave out pages whose label has one of these")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    from anagen.patients.models import Patient
    from anagen.scale.generate import LONG_RECORD

    if not Patient.all_objects.filter(record_number=LONG_RECORD).exists():
        call_command("bench_data", patients=args.patients)
    clinic, pages = benchmark_pages()
    patients = Patient.all_objects.filter(clinic=clinic).count()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        pages = [p for p in pages if any(w in p.label for w in wanted)]
    if args.who:
        pages = [p for p in pages if p.who in args.who.split(",")]
    if args.skip:
        skipped = [w.strip() for w in args.skip.split(",") if w.strip()]
        pages = [p for p in pages if not any(w in p.label for w in skipped)]
    sessions = {
        "physician": _signed_in_client(f"{clinic.slug}.physician"),
        "admin": _signed_in_client(f"{clinic.slug}.admin"),
    }
    _count_queries(sessions, pages)
    # A page that answers 403/404 for this patient does not exist for them (no measured series
    # to chart for a new patient, photos without the photo consent): listed, not timed.
    skipped_pages = [
        f"{p.label} ({p.who}, HTTP {p.status})" for p in pages if p.status in (403, 404)
    ]
    pages = [p for p in pages if p.status not in (403, 404)]
    port = _free_port()
    server = _serve(port)
    try:
        anonymous, signed_floor, anonymous_p95, signed_p95 = _floors(
            port, sessions["physician"][1], 300
        )
        print(
            f"bare view: anonymous {anonymous:.2f} ms, signed in {signed_floor:.2f} ms", flush=True
        )
        for page in pages:
            _, cookie, token = sessions[page.role]
            _measure(port, page, cookie, token, args.requests, args.concurrency)
            print(
                f"{page.label:<20} {page.who:<8} {statistics.median(page.times):7.1f} ms",
                flush=True,
            )
        peaks = _worker_peaks_mb(server)
    finally:
        server.terminate()
        server.wait()
    memory = (
        f"peak resident memory per worker {' / '.join(f'{m:.0f}' for m in peaks)} MB (cap 500 MB)"
        if peaks
        else "peak worker memory not readable here"
    )
    bare_all = [b for p in pages for b in p.bare]
    bare = statistics.median(bare_all)
    load = os.getloadavg()[0]
    stamp = f"{dt.datetime.now():%d %b %Y %H:%M}"
    partial = bool(args.only or args.who or args.skip) and RESULTS.exists()
    rows = {}
    for p in pages:
        floor = statistics.median(p.bare)
        ratio = _pct(p.times, 95) / floor
        like_for_like = _pct(p.times, 95) / _pct(p.bare, 95)
        met = "yes" if ratio <= TARGET_RATIO and not p.errors else "no"
        if p.errors:
            met += f" ({p.errors} errors, HTTP {p.status})"
        if partial:
            met += f" (re-run {stamp[-5:]})"
        rows[(p.label, p.who)] = (
            f"| {p.label} | {p.who} | {p.queries} | {statistics.median(p.times):.1f} | "
            f"{_pct(p.times, 95):.1f} | {_pct(p.times, 99):.1f} | {ratio:.1f} | "
            f"{like_for_like:.1f} | {met} |"
        )
    header = [
        f"# Page benchmark: {patients:,} patients on {connection.vendor} ({stamp})",
        "",
        f"gunicorn 2 workers, {args.requests} requests per page at concurrency "
        f"{args.concurrency} on {os.cpu_count()} cores (load average {load:.1f} at the end); "
        f"bare view (/session/ping) one request at a time, before the pages: anonymous "
        f"{anonymous:.2f} ms, signed in {signed_floor:.2f} ms (× {signed_floor / anonymous:.1f}; "
        f"p95 {anonymous_p95:.2f} / {signed_p95:.2f} ms); interleaved with the pages at "
        f"concurrency {args.concurrency} the signed-in bare view's median is {bare:.1f} ms "
        "(it queues behind the pages). × bare = page p95 ÷ the median of the bare signed-in "
        f"view interleaved with that page's requests; target ≤ {TARGET_RATIO:g} (the column "
        "'met'). × bare p95 = page p95 ÷ that bare view's own p95, like for like (shown, not "
        f"used for 'met'). {memory}. Each page is "
        "first asked for twice per connection, unmeasured (a worker's first view of a page "
        "compiles its templates and fills its caches)."
        + (f" Not applicable here: {'; '.join(skipped_pages)}." if skipped_pages else ""),
        "",
        "| page | patient | queries | median ms | p95 ms | p99 ms | × bare | × bare p95 | met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    if partial:
        # A partial re-run: its rows replace the same rows of the full run's table.
        old = RESULTS.read_text().splitlines()
        table = [line for line in old if line.startswith("| ") and not line.startswith("| page")]
        merged = []
        for line in table:
            cells = [c.strip() for c in line.strip("|").split("|")]
            merged.append(rows.pop((cells[0], cells[1]), line))
        merged += rows.values()
        notes = [line for line in old if line.startswith("Re-run ")]
        notes.append(
            f"Re-run {stamp}: {len(pages)} rows (bare view anonymous {anonymous:.2f} ms, "
            f"signed in {signed_floor:.2f} ms; interleaved {bare:.1f} ms; load average "
            f"{load:.1f}; {memory})."
            + (f" Not applicable: {'; '.join(skipped_pages)}." if skipped_pages else "")
        )
        intro = old[: old.index(next(x for x in old if x.startswith("| page")))]
        lines = [x for x in intro if not x.startswith("Re-run ")]
        while lines and not lines[-1]:
            lines.pop()
        lines += ["", *notes, "", *header[-2:], *merged]
    else:
        lines = header + list(rows.values())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
