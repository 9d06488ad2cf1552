"""Schemathesis drives every operation of the OpenAPI schema with generated input: no 500s,
and every response matches the documented status codes and shapes."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    # Like Django's test client: the WSGI handler must not close the test's DB connection
    # (and with it the test transaction) at the end of every request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token(clinic_a, patient_a, keep_test_connection):
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.physician), name="fuzz"
    )
    return raw


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_fails_on_generated_input(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
