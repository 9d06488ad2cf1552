"""Upload memory benchmark (issue 13): `uv run python benchmarks/upload_memory.py`.

Starts gunicorn as production runs it (2 sync workers, `gunicorn anagen.wsgi`) on a throwaway
demo database, signs in as the demo nurse, and sends 8 maximal photo uploads in parallel: mostly
flat RGBA PNGs just under the pixel limit (7300 × 5479 = 39.99 MP at the default 40 MP: the worst
case for memory, as PNG has no scaled decoder and RGBA is the widest mode we accept; each file is
only a few hundred kilobytes, like the issue's 113 KB example). Then it reads each worker's peak
resident memory (VmHWM in /proc/<pid>/status; no psutil needed) and prints, per worker, the
resident size before the uploads, the peak, and the ceiling (the highest peak).

Knobs: BENCH_UPLOADS (default 8), BENCH_WORKERS (2), BENCH_PORT (a free one by default),
BENCH_WIDTH / BENCH_HEIGHT (the image size), ANAGEN_UPLOAD_MAX_PIXELS (passed to the server).
Linux only (/proc). Exit 1 if any upload is not accepted.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = os.environ.get("ANAGEN_UV", str(ROOT / "var" / "uv" / "bin" / "uv"))
UPLOADS = int(os.environ.get("BENCH_UPLOADS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
WIDTH = int(os.environ.get("BENCH_WIDTH", "7300"))
HEIGHT = int(os.environ.get("BENCH_HEIGHT", "5479"))
NURSE = "north.nurse"
PASSWORD = "anagen-demo-2026"  # noqa: S105 - the demo clinic's published password

SETUP = """
import datetime as dt, json
from anagen.accounts.access import Actor
from anagen.accounts.models import Membership, User
from anagen.care.selectors import consent_valid_for
from anagen.outcomes import services
from anagen.patients.models import Patient
user = User.objects.get(username=%(nurse)r)
m = Membership.objects.filter(user=user).select_related("clinic").first()
actor = Actor(user, m)
patient = next(p for p in Patient.objects.filter(clinic=m.clinic).order_by("pk")
               if consent_valid_for(p, "photo_clinical") is not None)
sets = [services.photo_set_create(actor=actor, patient=patient,
        taken_on=actor.today() - dt.timedelta(days=i)).pk for i in range(%(n)d)]
print("BENCH" + json.dumps({"patient": patient.pk, "sets": sets}))
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def flat_png(width: int, height: int) -> bytes:
    """A mostly flat RGBA PNG, built row by row (never held as pixels here)."""
    z = zlib.compressobj(9)
    skin = b"\x00" + b"\xc8\xa0\x90\xff" * width
    band = b"\x00" + b"\x40\x30\x20\xff" * width
    data = bytearray()
    for y in range(height):
        data += z.compress(band if y % 400 < 8 else skin)
    data += z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", bytes(data)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own command with our own arguments
        [UV, "run", "--frozen", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])  # kB
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                kids.append(int(entry.name))
    return sorted(kids)


class Session:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def csrf(self) -> str:
        return next(c.value or "" for c in self.jar if c.name == "csrftoken")

    def request(self, path: str, data: bytes | None = None, ctype: str = "") -> tuple[int, str]:
        req = urllib.request.Request(self.base + path, data=data)  # noqa: S310 - loopback http
        if ctype:
            req.add_header("Content-Type", ctype)
        req.add_header("Referer", self.base + path)
        try:
            with self.opener.open(req, timeout=600) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def login(self) -> None:
        self.request("/login/")
        form = urllib.parse.urlencode(
            {"username": NURSE, "password": PASSWORD, "csrfmiddlewaretoken": self.csrf()}
        ).encode()
        status, _body = self.request("/login/", form, "application/x-www-form-urlencoded")
        if status != 302:
            sys.exit(f"error: signing in as {NURSE} answered {status}")

    def upload(self, path: str, content: bytes) -> int:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (("csrfmiddlewaretoken", self.csrf()), ("view", "vertex")):
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            parts.append(f"{head}{value}\r\n".encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="max.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        status, body = self.request(
            path, b"".join(parts), f"multipart/form-data; boundary={boundary}"
        )
        if status != 302:
            errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S)
            print(f"  upload answered {status}: {errors[:1]}", file=sys.stderr)
        return status


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="anagen-upload-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "ANAGEN_VAR_DIR": str(tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
    }
    env.pop("ANAGEN_TEST_DB", None)
    print(f"demo database in {tmp} …", flush=True)
    _run(env, "anagen", "migrate", "--noinput", "-v0")
    _run(env, "anagen", "demo")
    out = _run(env, "anagen", "shell", "-c", SETUP % {"nurse": NURSE, "n": UPLOADS})
    setup = json.loads(out.split("BENCH", 1)[1])
    content = flat_png(WIDTH, HEIGHT)
    print(
        f"upload: RGBA PNG {WIDTH} × {HEIGHT} = {WIDTH * HEIGHT / 1e6:.2f} MP, "
        f"{len(content) / 1024:.0f} KB; {UPLOADS} in parallel to {WORKERS} gunicorn workers",
        flush=True,
    )
    port = int(os.environ.get("BENCH_PORT") or _free_port())
    server_log = (tmp / "gunicorn.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - our own command with our own arguments
        # This interpreter (the project's, under `uv run`), so the process is gunicorn's master.
        [
            sys.executable,
            "-m",
            "gunicorn",
            "anagen.wsgi",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/login/", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.5)
        else:
            sys.exit("error: gunicorn did not start serving within 120 s")
        master = server.pid
        workers = _children(master)
        if len(workers) != WORKERS:
            sys.exit(f"error: expected {WORKERS} workers under {master}, found {workers}")
        sessions = [Session(base) for _ in range(UPLOADS)]
        for s in sessions:
            s.login()
        # Warm each worker once (imports, templates), then read the resident size.
        for s in sessions[: WORKERS * 2]:
            s.request(f"/patients/{setup['patient']}/photos/")
        before = {w: _status(w) for w in workers}
        paths = [f"/patients/{setup['patient']}/photos/{sid}/capture/" for sid in setup["sets"]]
        started = time.monotonic()
        with ThreadPoolExecutor(UPLOADS) as pool:
            statuses = list(
                pool.map(lambda sp: sp[0].upload(sp[1], content), zip(sessions, paths, strict=True))
            )
        took = time.monotonic() - started
        after = {w: _status(w) for w in workers}
        accepted = statuses.count(302)
        print(f"accepted {accepted} of {UPLOADS} uploads in {took:.1f} s")
        for w in workers:
            print(
                f"worker {w}: resident before {before[w]['VmRSS'] / 1024:.0f} MB, "
                f"peak {after[w]['VmHWM'] / 1024:.0f} MB"
            )
        ceiling = max(a["VmHWM"] for a in after.values()) / 1024
        total = sum(a["VmHWM"] for a in after.values()) / 1024
        print(f"ceiling: {ceiling:.0f} MB per worker (sum of worker peaks {total:.0f} MB)")
        if accepted != UPLOADS:
            sys.exit(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server_log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
