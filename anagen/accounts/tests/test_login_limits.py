"""Sign-in limits per address as well as per username+address, with the real client address."""

import re

import pytest
from django.test import Client, RequestFactory

from anagen.accounts.client_ip import client_ip
from anagen.audit.models import AuditEvent

PROXY = "10.0.0.5"


def _login(client, username, password="wrong-password", **meta):
    return client.post("/login/", {"username": username, "password": password}, **meta)


def _main(response):
    """The page body without the per-response nonce and CSRF token."""
    html = response.content.decode()
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", main)


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.ANAGEN_LOGIN_ADDRESS_LIMIT = 20
    settings.ANAGEN_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    return settings


def test_many_usernames_from_one_address_lock_that_address(clinic_a, limits):
    client = Client()
    statuses = []
    for i in range(40):
        for _ in range(4):  # under the per-username limit of 5
            statuses.append(_login(client, f"guess{i}", REMOTE_ADDR="198.51.100.7").status_code)
    # The 20th failure from the address is answered "locked", and so is everything after it.
    assert statuses[:19] == [200] * 19
    assert set(statuses[19:]) == {429}
    locked = _login(client, "a.nurse", "correct-horse-battery", REMOTE_ADDR="198.51.100.7")
    assert locked.status_code == 429
    # Unknown and known usernames get the same answer.
    unknown = _login(client, "nobody-at-all", REMOTE_ADDR="198.51.100.7")
    assert (unknown.status_code, _main(unknown)) == (locked.status_code, _main(locked))
    # Another address is not affected.
    ok = _login(Client(), "a.nurse", "correct-horse-battery", REMOTE_ADDR="198.51.100.8")
    assert ok.status_code == 302


def test_failure_answer_is_the_same_for_unknown_and_known_usernames(clinic_a, limits):
    known = _login(Client(), "a.nurse", REMOTE_ADDR="198.51.100.9")
    unknown = _login(Client(), "no.such.person", REMOTE_ADDR="198.51.100.9")
    assert known.status_code == unknown.status_code == 200
    assert "Please try again" in _main(known)
    assert _main(known).replace("a.nurse", "X") == _main(unknown).replace("no.such.person", "X")


def test_behind_a_trusted_proxy_clients_are_counted_separately(clinic_a, limits):
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    for i in range(25):
        _login(Client(), f"guess{i}", **attacker)
    assert _login(Client(), "a.nurse", "correct-horse-battery", **attacker).status_code == 429
    other = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.8, 10.0.0.9"}
    assert _login(Client(), "a.nurse", "correct-horse-battery", **other).status_code == 302
    assert AuditEvent.objects.filter(action="login.failure", ip_address="203.0.113.7").count() > 0
    assert AuditEvent.objects.get(action="login.success").ip_address == "203.0.113.8"


def test_untrusted_remote_address_forwarded_header_is_ignored(clinic_a, limits):
    for i in range(25):
        meta = {"REMOTE_ADDR": "198.51.100.20", "HTTP_X_FORWARDED_FOR": f"203.0.113.{i}"}
        _login(Client(), f"guess{i}", **meta)
    fresh_header = {"REMOTE_ADDR": "198.51.100.20", "HTTP_X_FORWARDED_FOR": "203.0.113.99"}
    assert _login(Client(), "a.nurse", "correct-horse-battery", **fresh_header).status_code == 429
    assert set(
        AuditEvent.objects.filter(action="login.failure").values_list("ip_address", flat=True)
    ) == {"198.51.100.20"}


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("198.51.100.1", "", "198.51.100.1"),
        ("198.51.100.1", "203.0.113.5", "198.51.100.1"),  # untrusted: header ignored
        (PROXY, "", PROXY),
        (PROXY, "203.0.113.5", "203.0.113.5"),
        (PROXY, "1.1.1.1, 203.0.113.5", "203.0.113.5"),  # right-most untrusted wins
        (PROXY, "203.0.113.5, 10.1.2.3", "203.0.113.5"),  # a chain of trusted proxies
        (PROXY, "10.1.2.3", "10.1.2.3"),  # only proxies: the left-most proxy
        (PROXY, "203.0.113.5, garbage", PROXY),  # a malformed hop stops the walk
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_ip(limits, remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_no_trusted_proxies_by_default(settings):
    settings.ANAGEN_TRUSTED_PROXIES = []
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert client_ip(request) == PROXY
