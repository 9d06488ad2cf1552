"""Patient search speed on a clinic of 10,000 synthetic patients (SQLite by default).

Run: uv run python benchmarks/patient_search.py  [--patients N]
Prints the median and p95 time of a search page query (count + first page) per query kind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("ANAGEN_VAR_DIR", tempfile.mkdtemp(prefix="anagen-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import datetime as dt
    import random

    from anagen.accounts.access import Actor
    from anagen.accounts.models import Clinic, Membership, Organisation, User
    from anagen.demo import FAMILY_NAMES, FEMALE_NAMES, MALE_NAMES
    from anagen.patients.models import Patient
    from anagen.patients.normalise import digits_of, search_name_for
    from anagen.patients.selectors import patient_search

    org = Organisation.objects.create(name="Bench", slug="bench")
    clinic = Clinic.objects.create(organisation=org, name="Bench", slug="bench", record_prefix="B")
    user = User.objects.create(username="bench")
    membership = Membership.objects.create(user=user, clinic=clinic, role="front_desk")
    actor = Actor(user=user, membership=membership)
    rng = random.Random(7)
    rows = []
    for n in range(args.patients):
        given = rng.choice(MALE_NAMES + FEMALE_NAMES)
        family = rng.choice(FAMILY_NAMES) + ("" if n % 3 else f"-{rng.choice(FAMILY_NAMES)}")
        phone = f"+4477009{n:05d}"
        rows.append(
            Patient(
                clinic=clinic,
                record_number=f"B{n:06d}",
                given_name=given,
                family_name=family,
                search_name=search_name_for(given, family),
                birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 20000)),
                sex="male",
                phone=phone,
                phone_digits=digits_of(phone),
            )
        )
    Patient.objects.bulk_create(rows, batch_size=2000)
    queries = {
        "name (two words, accents)": "josé garcía",
        "name (one word)": "smith",
        "date of birth": "1984-05-02",
        "phone": "07700 900123",
        "record number": "B004321",
    }
    print(f"{args.patients} patients, {args.repeat} runs each (count + first page of 25)")
    for label, query in queries.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            qs = patient_search(actor=actor, query=query)
            qs.count()
            list(qs[:25])
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"  {label:<28} median {statistics.median(times):6.2f} ms   p95 {p95:6.2f} ms")


if __name__ == "__main__":
    main()
