"""Signing in from tests the way a person with an authenticator app does.

`sign_in(client, user)` logs `user` in and passes the second factor honestly: the user gets a
confirmed authenticator app (as if enrolled earlier) and the session carries django-otp's
verified marker for that device, exactly what the two-factor step stores. `fresh_code(user)`
computes the code the person's app would show now, never one already used (for browser tests).
"""

from __future__ import annotations

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from anagen.accounts import mfa
from anagen.accounts.models import User


def enrolled_device(user: User) -> TOTPDevice:
    """The user's confirmed authenticator app, set up now if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user,
            name="Authenticator app",
            key=mfa.new_secret(),
            step=mfa.STEP,
            digits=mfa.DIGITS,
            tolerance=mfa.TOLERANCE,
            confirmed=True,
        )
    return device


def sign_in(client: Client, user: User) -> Client:
    """`force_login` plus a passed second factor (the session's verified-device marker)."""
    device = enrolled_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def fresh_code(device: TOTPDevice) -> str:
    """The code an app would show that the server has not accepted yet (a sign-in in the same
    30 seconds as the last one uses the next step's code, which the tolerance allows)."""
    while True:
        device.refresh_from_db()
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        now = time.time()
        totp.time = now
        for ahead in range(device.tolerance + 1):
            totp.time = now + ahead * device.step
            if totp.t() > device.last_t:
                return f"{totp.token():0{device.digits}d}"
        time.sleep(1)
