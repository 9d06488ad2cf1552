"""Every role against every permission: the one table, checked cell by cell.

The expected matrix is written out here on purpose: changing what a role may do must change
this test too, so it is a decision, not an accident.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from anagen.accounts.access import Actor
from anagen.accounts.models import Membership, Role
from anagen.accounts.permissions import PERMISSION_TABLE, ROLE_PERMS, Perm, role_has

P, N, F, A = "physician", "nurse", "front_desk", "clinic_admin"
EXPECTED: dict[Perm, set[str]] = {
    Perm.PATIENT_VIEW: {P, N, F, A},
    Perm.PATIENT_REGISTER: {P, N, F, A},
    Perm.PATIENT_DELETE: {P, A},
    Perm.PATIENT_IMPORT: {P, A},
    Perm.PATIENT_EXPORT: {P},
    Perm.PATIENT_ERASE: {P, A},
    Perm.BOOK: {P, N, F},
    Perm.CHECK_IN: {P, N, F},
    Perm.CLINICAL_VIEW: {P, N},
    Perm.INTAKE_RECORD: {P, N},
    Perm.ASSESS: {P, N},
    Perm.ASSESSMENT_SIGN: {P},
    Perm.SCREEN: {P, N},
    Perm.SCREENING_OVERRIDE: {P},
    Perm.CONSENT_RECORD: {P, N},
    Perm.CONSENT_STATUS_VIEW: {P, N, F},
    Perm.CONSENT_PUBLISH: {P, A},
    Perm.PLAN: {P},
    Perm.SESSION_PERFORM: {P, N},
    Perm.SESSION_SIGN: {P},
    Perm.AMEND: {P},
    Perm.OUTCOMES_RECORD: {P, N},
    Perm.RATING_MANAGE: {P},
    Perm.INVENTORY_MANAGE: {P, N, A},
    Perm.RESOURCES_MANAGE: {A},
    Perm.ANALYTICS_VIEW: {P, A},
    Perm.ANALYTICS_PATIENT_ROWS: {P},
    Perm.STAFF_MANAGE: {A},
    Perm.CLINIC_SETTINGS: {A},
    Perm.AUDIT_VIEW: {A},
    Perm.REMINDERS_MANAGE: {A},
    Perm.BILLING: {F, A},
    Perm.PRICE_LIST_MANAGE: {A},
    Perm.BILLING_APPROVE: {A},
    Perm.PACKAGE_STATUS_VIEW: {P, N, F, A},
    Perm.BILLING_REPORTS: {A},
}


def test_the_table_has_one_row_per_permission_and_the_expected_matrix_covers_it():
    assert set(PERMISSION_TABLE) == set(Perm)
    assert set(EXPECTED) == set(Perm)


@pytest.mark.parametrize("role", list(Role.values))
@pytest.mark.parametrize("perm", list(Perm))
def test_every_role_against_every_permission(role, perm):
    assert role_has(role, perm) is (role in EXPECTED[perm])
    assert (perm in ROLE_PERMS[role]) is (role in EXPECTED[perm])


@pytest.mark.parametrize("role", list(Role.values))
def test_the_actor_carries_the_role_s_permissions_and_require_refuses_in_words(clinic_a, role):
    user = {
        P: clinic_a.physician,
        N: clinic_a.nurse,
        F: clinic_a.front_desk,
        A: clinic_a.admin,
    }[role]
    actor = clinic_a.actor(user)
    for perm in Perm:
        allowed = role in EXPECTED[perm]
        assert actor.can(perm) is allowed
        assert getattr(actor.perms, perm.attr) is allowed  # what templates read
        if allowed:
            actor.require(perm)
        else:
            with pytest.raises(PermissionDenied, match=f"Your role cannot {perm.label}"):
                actor.require(perm)


def test_a_deactivated_membership_may_do_nothing(clinic_a):
    membership = Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic)
    membership.is_active = False
    actor = Actor(user=clinic_a.physician, membership=membership)
    assert not any(actor.can(p) for p in Perm)


def test_templates_fail_on_an_unknown_permission_name(clinic_a):
    actor = clinic_a.actor(clinic_a.physician)
    with pytest.raises(AttributeError):
        _ = actor.perms.sign_everything


def test_actor_carries_via_and_the_clinic_zone(clinic_a):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save(update_fields=["timezone"])
    actor = clinic_a.actor(clinic_a.physician).acting_via("api")
    assert actor.via == "api"
    assert str(actor.tz) == "Pacific/Auckland"
    assert actor.now().utcoffset() is not None and actor.now().utcoffset().total_seconds() > 0
