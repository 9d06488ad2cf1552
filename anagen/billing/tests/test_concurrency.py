"""Numbers and package sessions under concurrency.

Each thread has its own database connection (Django connections are per thread). On PostgreSQL
the clinic's counter row is locked (SELECT … FOR UPDATE) until the issuing transaction commits;
on SQLite the writers are serialised (``services.serialised``) and that path is tested instead.
Signing one session from many threads at once is a PostgreSQL race (the session row lock and
the one-consumption-per-session constraint decide).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from anagen.billing import services
from anagen.billing.models import Invoice, PackageConsumption
from anagen.billing.tests.helpers import package, prices

N = 20

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks); run with DATABASE_URL=postgres://…",
)
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the serialised SQLite path; runs on SQLite"
)


def _race(target, n: int) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def contender(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # reported by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _issue_in_parallel(clinic_a, patient_a) -> list[int]:
    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    drafts = []
    for _ in range(N):
        draft = services.invoice_create(actor=desk, patient=patient_a)
        services.invoice_add_line(actor=desk, invoice=draft, code="consultation")
        drafts.append(draft)

    def issue(i: int) -> int:
        actor = clinic_a.actor(clinic_a.front_desk)
        number = services.invoice_issue(actor=actor, invoice=drafts[i]).number
        assert number is not None
        return number

    results = _race(issue, N)
    assert all(isinstance(r, int) for r in results), results
    return [int(r) for r in results]  # type: ignore[call-overload]


def _check_contiguous(numbers: list[int], clinic_a) -> None:
    assert sorted(numbers) == list(range(1, N + 1))
    stored = Invoice.objects.filter(clinic=clinic_a.clinic).values_list("number", flat=True)
    assert sorted(n or 0 for n in stored) == list(range(1, N + 1))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_20_parallel_issues_get_20_unique_contiguous_numbers(clinic_a, patient_a):
    _check_contiguous(_issue_in_parallel(clinic_a, patient_a), clinic_a)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_serialised_issues_get_20_unique_contiguous_numbers(clinic_a, patient_a):
    _check_contiguous(_issue_in_parallel(clinic_a, patient_a), clinic_a)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_signing_one_session_in_parallel_consumes_one_package_session(clinic_a, patient_a):
    from django.core.exceptions import ValidationError

    from anagen.procedures import services as procedures
    from anagen.procedures.tests.helpers import complete_prp, ready_patient, start

    ready_patient(clinic_a, patient_a)
    sale = services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    session = complete_prp(clinic_a, start(clinic_a, patient_a))

    def sign(_i: int) -> str:
        try:
            procedures.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
        except ValidationError:
            return "refused"
        return "signed"

    results = _race(sign, 8)
    assert results.count("signed") == 1, results
    assert results.count("refused") == 7, results
    assert PackageConsumption.objects.filter(package_sale=sale).count() == 1

    def consume(_i: int) -> object:
        return services.package_consume_for_session(
            actor=clinic_a.actor(clinic_a.physician), session=session
        )

    again = _race(consume, 8)
    assert all(not isinstance(r, Exception) for r in again), again
    assert PackageConsumption.objects.filter(package_sale=sale).count() == 1
