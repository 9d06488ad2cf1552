from anagen.audit.models import AuditEvent
from anagen.scheduling.models import ReminderRule


def test_admin_adds_and_toggles_rules(clinic_a, clinic_b):
    client = clinic_a.client(clinic_a.admin)
    assert b"No reminder rules" in client.get("/scheduling/reminders/").content
    assert (
        client.post(
            "/scheduling/reminders/", {"action": "add", "channel": "sms", "lead_hours": "24"}
        ).status_code
        == 302
    )
    rule = ReminderRule.objects.get(clinic=clinic_a.clinic)
    assert (rule.channel, rule.lead_hours, rule.is_active) == ("sms", 24, True)
    dup = client.post(
        "/scheduling/reminders/", {"action": "add", "channel": "sms", "lead_hours": "24"}
    )
    assert dup.status_code == 400 and b"already a rule" in dup.content
    bad = client.post(
        "/scheduling/reminders/", {"action": "add", "channel": "fax", "lead_hours": "0"}
    )
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    client.post("/scheduling/reminders/", {"rule": rule.pk, "active": "0"})
    rule.refresh_from_db()
    assert not rule.is_active
    assert AuditEvent.objects.filter(action__startswith="reminder_rule.").count() == 2
    other = ReminderRule.objects.create(clinic=clinic_b.clinic, channel="email", lead_hours=48)
    assert (
        client.post("/scheduling/reminders/", {"rule": other.pk, "active": "0"}).status_code == 404
    )


def test_only_admins(clinic_a):
    for user in (clinic_a.physician, clinic_a.front_desk):
        assert clinic_a.client(user).get("/scheduling/reminders/").status_code == 403
