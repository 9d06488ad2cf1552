from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password

from anagen.accounts.models import Role, User


class StaffCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @ . + - _ only."},
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        widget=forms.PasswordInput, help_text="At least 12 characters; not a common password."
    )

    def clean_password(self) -> Any:
        password = self.cleaned_data["password"]
        candidate = User(
            username=self.data.get("username", ""),
            first_name=self.data.get("first_name", ""),
            last_name=self.data.get("last_name", ""),
            email=self.data.get("email", ""),
        )
        validate_password(password, candidate)
        return password


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
