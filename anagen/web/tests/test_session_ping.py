from __future__ import annotations

from django.test import Client


def test_session_ping_says_whether_the_session_is_signed_in(clinic_a):
    signed_in = clinic_a.client(clinic_a.nurse).get("/session/ping")
    assert signed_in.status_code == 204
    assert signed_in["X-Signed-In"] == "1"
    anonymous = Client().get("/session/ping")
    assert anonymous.status_code == 204
    assert anonymous["X-Signed-In"] == "0"


def test_session_ping_refuses_writes(clinic_a):
    assert clinic_a.client(clinic_a.nurse).post("/session/ping").status_code == 405
