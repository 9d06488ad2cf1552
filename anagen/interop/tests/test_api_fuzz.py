"""Schemathesis drives every operation of the OpenAPI schema with generated input and runs its
default checks: no 5xx, every status code, content type, header and body as documented,
schema-violating input refused, schema-valid input accepted, authentication enforced, and
undeclared methods answered 405 -- once per role (physician, nurse, front desk, clinic admin),
each with its own bearer token.

How many cases: schemathesis runs, per operation, its explicit-examples and coverage phases
(boundary values, every invalid type, undeclared methods: about 50 cases) and then
`max_examples` generated cases. `ANAGEN_FUZZ_CASES` unset (the everyday suite): each operation
runs once, as one role chosen by the operation's name (the four roles share the operations),
with 1 generated example -- about 5,000 cases. `ANAGEN_FUZZ_CASES=N` (CI's PostgreSQL run): every
operation runs as each of the four roles, with `ceil(N / (operations x roles))` generated
examples each, on top of the coverage phase. With `ANAGEN_FUZZ_REPORT=<file>` the run writes
the number of cases it sent and their status codes to that file (JSON).
"""

import json
import math
import os
import zlib
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create

# One change to the defaults: schema-valid input may also be refused with 422 by a rule the
# schema cannot say (a measurement dated in the future, a screening gate, a slot outside the
# working hours). Input the schema itself rules out must still be refused (negative checks).
# A change of a protected record without its current ETag is refused too, with 428 (no
# If-Match) or 412 (a generated If-Match never names the record's current version).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": [
                    "2xx",
                    "3xx",
                    "401",
                    "403",
                    "404",
                    "409",
                    "412",
                    "422",
                    "428",
                    "429",
                ]
            }
        }
    }
)

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=CONFIG
)


@pytest.fixture
def keep_test_connection():
    # Like Django's test client: the WSGI handler must not close the test's DB connection
    # (and with it the test transaction) at the end of every request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


ROLES = ("physician", "nurse", "front_desk", "admin")
OPERATIONS = sum(
    1
    for item in schema.raw_schema["paths"].values()
    for method in item
    if method in {"get", "put", "post", "patch", "delete"}
)
WANTED = os.environ.get("ANAGEN_FUZZ_CASES", "").strip()
EVERY_ROLE = bool(WANTED)
PER_OPERATION = max(1, math.ceil(int(WANTED) / (OPERATIONS * len(ROLES)))) if WANTED else 1

SENT: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def fuzz_report():
    yield
    path = os.environ.get("ANAGEN_FUZZ_REPORT")
    if path:
        total = sum(v for k, v in SENT.items() if k.startswith("status:"))
        report = {
            "cases": total,
            "per_operation_and_role": PER_OPERATION,
            "operations": OPERATIONS,
            "every_role": EVERY_ROLE,
            **dict(sorted(SENT.items())),
        }
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)


@pytest.fixture(params=ROLES if EVERY_ROLE else ["by operation"])
def token(request, clinic_a, patient_a, keep_test_connection):
    role = request.param
    if not EVERY_ROLE:  # one role per operation, the same one on every run
        role = ROLES[zlib.crc32(request.node.name.encode()) % len(ROLES)]
    user = getattr(clinic_a, role)
    _, raw = api_token_create(membership=Membership.objects.get(user=user), name="fuzz")
    SENT[f"operations_as:{role}"] += 1
    return raw


@schema.parametrize()
@settings(
    max_examples=PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_as_documented(case, token):
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
    SENT[f"status:{response.status_code}"] += 1
