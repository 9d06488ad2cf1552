import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from anagen.accounts.models import ApiToken


def test_create_use_and_revoke_a_token(clinic_a, patient_a, capsys):
    call_command(
        "api_token", "create", "--user", "a.nurse", "--clinic", "a", "--name", "booking site"
    )
    raw = capsys.readouterr().out.splitlines()[0].rsplit(": ", 1)[1]
    client = Client()
    auth = {"Authorization": f"Bearer {raw}"}
    response = client.get("/api/v1/patients", headers=auth)
    assert response.status_code == 200, (raw, response.content)
    assert response.json()["count"] == 1
    token = ApiToken.objects.get()
    assert token.key_hash != raw and token.last_used_at is not None
    call_command("api_token", "revoke", str(token.pk))
    assert client.get("/api/v1/patients", headers=auth).status_code == 401


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "--user", "nobody", "--clinic", "a", "--name", "x"],
        ["create", "--user", "a.nurse", "--clinic", "b", "--name", "x"],
        ["revoke", "999"],
    ],
)
def test_bad_input_exits_2_with_one_line(clinic_a, clinic_b, argv):
    with pytest.raises(CommandError) as exc:
        call_command("api_token", *argv)
    assert exc.value.returncode == 2 and "\n" not in str(exc.value)


def test_tokens_page_creates_shows_once_and_revokes(clinic_a, clinic_b, patient_a):
    client = clinic_a.client(clinic_a.nurse)
    assert b"No tokens yet." in client.get("/account/tokens/").content
    bad = client.post("/account/tokens/", {"name": "  "})
    assert bad.status_code == 400 and "Give the token a name" in bad.content.decode()
    page = client.post("/account/tokens/", {"name": "Booking website"}).content.decode()
    raw = page.split("<strong>New token:</strong> <code>")[1].split("</code>")[0]
    assert (
        Client().get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 200
    )
    assert raw not in client.get("/account/tokens/").content.decode()  # shown once
    token = ApiToken.objects.get(name="Booking website")
    assert (
        client.post(
            "/account/tokens/", {"action": "revoke", "token": token.pk, "confirm": "yes"}
        ).status_code
        == 302
    )
    assert (
        Client().get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 401
    )
    other = clinic_b.client(clinic_b.nurse)
    other.post("/account/tokens/", {"name": "theirs"})
    theirs = ApiToken.objects.get(name="theirs")
    assert (
        client.post("/account/tokens/", {"action": "revoke", "token": theirs.pk}).status_code == 404
    )
