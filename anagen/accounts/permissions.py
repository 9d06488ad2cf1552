"""What each role may do: one table, read by pages, API, services and templates alike.

Every permission a role has or lacks is one row of `PERMISSION_TABLE`. Nothing else in the code
compares roles: services call `actor.require(Perm.X)`, views and API handlers declare the
permission they need, templates read `actor.perms.x`.
"""

from __future__ import annotations

from enum import StrEnum

from anagen.accounts.models import Role


class Perm(StrEnum):
    PATIENT_VIEW = "patient.view"  # demographics and contact details
    PATIENT_REGISTER = "patient.register"  # register and edit demographics
    PATIENT_DELETE = "patient.delete"  # soft delete and restore a record
    PATIENT_IMPORT = "patient.import"  # import patients and intake basics from another system
    PATIENT_EXPORT = "patient.export"  # one patient's whole record as an archive (GDPR)
    PATIENT_ERASE = "patient.erase"  # erasure requests (GDPR art. 17) and the retention rule
    BOOK = "appointment.book"  # book, move, cancel, no-show
    CHECK_IN = "appointment.check_in"  # record arrival (not the clinical gate)
    CLINICAL_VIEW = "clinical.view"  # intake, history, labs, assessments, sessions, outcomes
    INTAKE_RECORD = "intake.record"
    ASSESS = "assessment.record"
    ASSESSMENT_SIGN = "assessment.sign"
    SCREEN = "screening.run"
    SCREENING_OVERRIDE = "screening.override"
    CONSENT_RECORD = "consent.record"  # sign and withdraw a patient's consent
    CONSENT_STATUS_VIEW = "consent.status"  # whether a valid consent exists, nothing more
    CONSENT_PUBLISH = "consent.publish"  # publish a new version of a consent text
    PLAN = "plan.create"  # choose a protocol for a patient
    SESSION_PERFORM = "session.perform"  # start and record a treatment session
    SESSION_SIGN = "session.sign"
    AMEND = "record.amend"  # amend a signed record, with a reason
    OUTCOMES_RECORD = "outcomes.record"  # measurements, photos, reports
    RATING_MANAGE = "rating.manage"  # set up blinded rating panels
    INVENTORY_MANAGE = "inventory.manage"  # products, lots, formulations, recalls
    RESOURCES_MANAGE = "resources.manage"  # practitioners, rooms, centrifuges, hours, feeds
    ANALYTICS_VIEW = "analytics.view"
    ANALYTICS_PATIENT_ROWS = "analytics.patient_rows"  # de-identified per-patient export
    STAFF_MANAGE = "staff.manage"
    CLINIC_SETTINGS = "clinic.settings"  # the clinic's name, logo, signature and sign-in rules
    AUDIT_VIEW = "audit.view"
    REMINDERS_MANAGE = "reminders.manage"
    BILLING = "billing.invoice"  # the ledger: invoices, payments, selling packages
    PRICE_LIST_MANAGE = "billing.price_list"  # prices and package definitions
    BILLING_APPROVE = "billing.approve"  # refunds and credit notes
    PACKAGE_STATUS_VIEW = "billing.package_status"  # sessions left in a package, no money
    BILLING_REPORTS = "billing.reports"  # takings, outstanding balances, package liability

    @property
    def label(self) -> str:
        return PERMISSION_TABLE[self][0]

    @property
    def attr(self) -> str:
        """The name templates use: `actor.perms.sign_session` style (`session_sign`)."""
        return self.name.lower()


P, N, F, A = Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.CLINIC_ADMIN

# permission: (what it lets you do, in words for a refusal message; the roles that have it)
PERMISSION_TABLE: dict[Perm, tuple[str, frozenset[str]]] = {
    Perm.PATIENT_VIEW: ("see patients", frozenset({P, N, F, A})),
    Perm.PATIENT_REGISTER: ("register or edit patients", frozenset({P, N, F, A})),
    Perm.PATIENT_DELETE: ("delete or restore patient records", frozenset({P, A})),
    # Moving a clinic's records in from another system (demographics and intake basics).
    Perm.PATIENT_IMPORT: ("import patients from another system", frozenset({P, A})),
    # The whole record, clinical parts included, for the patient's access or portability request.
    Perm.PATIENT_EXPORT: ("export a patient's whole record", frozenset({P})),
    # Restricting a record at the patient's request and setting how long records are kept.
    Perm.PATIENT_ERASE: ("handle erasure requests", frozenset({P, A})),
    Perm.BOOK: ("book appointments", frozenset({P, N, F})),
    Perm.CHECK_IN: ("check patients in", frozenset({P, N, F})),
    # Front desk books and registers: demographics only, never clinical detail. A clinic admin
    # runs the practice (staff, audit, resources) but reading clinical records is not that job.
    Perm.CLINICAL_VIEW: ("read clinical records", frozenset({P, N})),
    Perm.INTAKE_RECORD: ("record intakes", frozenset({P, N})),
    Perm.ASSESS: ("record assessments", frozenset({P, N})),  # nurses draft, physicians sign
    Perm.ASSESSMENT_SIGN: ("sign assessments", frozenset({P})),
    Perm.SCREEN: ("screen patients", frozenset({P, N})),
    Perm.SCREENING_OVERRIDE: ("override a screening result", frozenset({P})),
    Perm.CONSENT_RECORD: ("record consent", frozenset({P, N})),
    Perm.CONSENT_STATUS_VIEW: ("see consent status", frozenset({P, N, F})),
    Perm.CONSENT_PUBLISH: ("publish consent texts", frozenset({P, A})),
    Perm.PLAN: ("choose a protocol", frozenset({P})),
    Perm.SESSION_PERFORM: ("record treatment sessions", frozenset({P, N})),
    Perm.SESSION_SIGN: ("sign treatment sessions", frozenset({P})),
    Perm.AMEND: ("amend signed records", frozenset({P})),
    Perm.OUTCOMES_RECORD: ("record measurements and photos", frozenset({P, N})),
    Perm.RATING_MANAGE: ("set up rating panels", frozenset({P})),
    Perm.INVENTORY_MANAGE: ("manage products and lots", frozenset({P, N, A})),
    Perm.RESOURCES_MANAGE: ("manage practitioners, rooms and centrifuges", frozenset({A})),
    Perm.ANALYTICS_VIEW: ("see clinic analytics", frozenset({P, A})),
    # Issue 13: a clinic admin sees aggregates only (cells under 5 suppressed); per-patient
    # outcome rows, even de-identified, stay with the clinicians who may read the records.
    Perm.ANALYTICS_PATIENT_ROWS: ("export per-patient outcome rows", frozenset({P})),
    Perm.STAFF_MANAGE: ("manage staff", frozenset({A})),
    Perm.CLINIC_SETTINGS: ("change the clinic's settings", frozenset({A})),
    Perm.AUDIT_VIEW: ("read the audit trail", frozenset({A})),
    Perm.REMINDERS_MANAGE: ("manage reminder rules", frozenset({A})),
    # Front desk invoices and takes payments; the clinic admin also sets prices and approves
    # money going back; clinicians see how many package sessions are left, not the ledger.
    Perm.BILLING: ("invoice and take payments", frozenset({F, A})),
    Perm.PRICE_LIST_MANAGE: ("manage the price list", frozenset({A})),
    Perm.BILLING_APPROVE: ("approve refunds and credit notes", frozenset({A})),
    Perm.PACKAGE_STATUS_VIEW: ("see package status", frozenset({P, N, F, A})),
    Perm.BILLING_REPORTS: ("read the billing reports", frozenset({A})),
}

# Roles whose members must sign in with a second factor (TOTP) in every clinic; other roles
# must when their clinic sets `Clinic.mfa_required_for_all`.
MFA_REQUIRED_ROLES: frozenset[str] = frozenset({P, A})

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    role: frozenset(perm for perm, (_, roles) in PERMISSION_TABLE.items() if role in roles)
    for role in Role
}


def role_has(role: str | None, perm: Perm) -> bool:
    return role is not None and perm in ROLE_PERMS.get(role, frozenset())


def role_requires_mfa(role: str | None) -> bool:
    return role in MFA_REQUIRED_ROLES


class PermSet:
    """A role's permissions for templates: `{% if actor.perms.session_sign %}`.

    An unknown name raises, so a typo in a template fails the test that renders it instead of
    silently hiding a button.
    """

    def __init__(self, perms: frozenset[Perm]) -> None:
        self._perms = perms
        self._by_attr = {p.attr: p for p in Perm}

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_attr[name] in self._perms
        except KeyError:
            raise AttributeError(f"No permission called {name!r}.") from None

    def __getitem__(self, name: str) -> bool:
        return self.__getattr__(name)

    def __contains__(self, perm: object) -> bool:
        return perm in self._perms

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._perms))
