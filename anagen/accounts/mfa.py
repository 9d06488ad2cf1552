"""Two-factor sign-in (TOTP with recovery codes) on django-otp: secrets, codes, the QR picture.

A session counts as verified when django-otp's marker (`otp_device_id`) names a confirmed device
of the signed-in user; `OTPMiddleware` checks that on every request and `MfaGateMiddleware`
keeps an unverified session on the two-factor pages. Writes (enrolment, codes, audit) are in
`services`, reads in `selectors`.

Recovery codes are stored hashed: django-otp's StaticToken keeps `recovery_code_digest(user,
code)` (PBKDF2-SHA256 salted with the user, 80 bits in the token field's 16 characters), never
the code; a typed code is hashed the same way and matched against the stored digests, so the
database alone does not give anyone a way in.
"""

from __future__ import annotations

import hashlib
import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

import segno
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.util import random_hex

ISSUER = "Anagen"
STEP = 30
DIGITS = 6
TOLERANCE = 1  # one step either side: a phone a little slow or fast still works
RECOVERY_CODE_COUNT = 10
RECOVERY_DIGEST_ITERATIONS = 20_000
RECOVERY_DIGEST_LENGTH = 16  # django-otp's StaticToken.token holds 16 characters
# Where a pending enrolment keeps its secret: nothing is stored until the first code matches.
SETUP_KEY = "mfa_setup_key"


def new_secret() -> str:
    """20 random bytes, hex (django-otp's TOTPDevice.key format)."""
    return random_hex(20)


def secret_text(key_hex: str) -> str:
    """The secret as people type it into an authenticator app: base32 in groups of four."""
    b32 = b32encode(unhexlify(key_hex)).decode().rstrip("=")
    return " ".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def otpauth_url(key_hex: str, username: str) -> str:
    label = quote(f"{ISSUER}:{username}")
    params = urlencode(
        {
            "secret": b32encode(unhexlify(key_hex)).decode().rstrip("="),
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP,
        }
    )
    return f"otpauth://totp/{label}?{params}"


def qr_svg(url: str) -> str:
    """An inline SVG QR code (no image file, no script, no style attribute: CSP-safe)."""
    qr = segno.make(url, error="m")
    return str(
        qr.svg_inline(scale=5, border=4, light="#fff", dark="#000", svgclass="qr", title="QR code")
    )


def normalise_code(code: str) -> str:
    """What a person typed, without spaces or dashes, lower case (recovery codes are base32)."""
    return "".join(code.split()).replace("-", "").lower()


def recovery_code_digest(user_id: int, code: str) -> str:
    """What is stored for a recovery code (and compared with what a person types): PBKDF2-SHA256
    of the normalised code, salted with the user, as 16 base32 characters."""
    raw = hashlib.pbkdf2_hmac(
        "sha256",
        normalise_code(code).encode(),
        f"anagen-recovery-code:{user_id}".encode(),
        RECOVERY_DIGEST_ITERATIONS,
    )
    return b32encode(raw).decode().lower()[:RECOVERY_DIGEST_LENGTH]


def is_totp_shape(code: str) -> bool:
    return len(code) == DIGITS and code.isdigit()


def totp_match(key_hex: str, code: str, *, min_t: int = 0, at: float | None = None) -> int | None:
    """The time step `code` belongs to (within TOLERANCE of now and not before `min_t`)."""
    if not is_totp_shape(code):
        return None
    totp = TOTP(unhexlify(key_hex), STEP, 0, DIGITS, 0)
    totp.time = time.time() if at is None else at
    if totp.verify(int(code), tolerance=TOLERANCE, min_t=min_t):
        return int(totp.t())
    return None


def totp_code(key_hex: str, *, at: float | None = None) -> str:
    """The current code for a secret (what the person's phone shows)."""
    totp = TOTP(unhexlify(key_hex), STEP, 0, DIGITS, 0)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{DIGITS}d}"


def mark_verified(request: HttpRequest, device: Device) -> None:
    """This session passed the second factor with `device` (django-otp's own session marker)."""
    otp_login(request, device)


def session_verified(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


__all__ = [
    "DEVICE_ID_SESSION_KEY",
    "RECOVERY_CODE_COUNT",
    "SETUP_KEY",
    "is_totp_shape",
    "mark_verified",
    "new_secret",
    "normalise_code",
    "otpauth_url",
    "qr_svg",
    "recovery_code_digest",
    "secret_text",
    "session_verified",
    "totp_code",
    "totp_match",
]
