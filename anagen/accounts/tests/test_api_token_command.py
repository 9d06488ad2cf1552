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
