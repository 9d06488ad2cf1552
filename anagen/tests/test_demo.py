from django.core.management import call_command

from anagen.accounts.models import Clinic, Membership, Role
from anagen.demo import seed_demo
from anagen.patients.models import Intake, Patient


def test_demo_clinic_is_realistic_and_idempotent(db, capsys):
    call_command("demo")
    out = capsys.readouterr().out
    assert "north.physician" in out and "anagen-demo-2026" in out
    assert Clinic.objects.count() == 2
    for clinic in Clinic.objects.all():
        roles = set(Membership.objects.filter(clinic=clinic).values_list("role", flat=True))
        assert roles == set(Role.values)
    assert Patient.objects.count() >= 150
    assert Intake.objects.count() == Patient.objects.count()
    assert (
        Patient.objects.filter(search_name__contains="jose").exists()
        or Patient.objects.filter(given_name__regex=r"[^\x00-\x7f]").exists()
    )
    again = seed_demo()
    assert (again.created_users, again.created_patients) == (0, 0)
    assert Patient.objects.count() == 180
