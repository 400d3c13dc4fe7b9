from __future__ import annotations

from django import forms


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Six-digit code, or a recovery code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True, "spellcheck": "false"}
        ),
    )


class EnrollForm(forms.Form):
    code = forms.RegexField(
        label="Six-digit code from your authenticator app",
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        max_length=8,
        error_messages={"invalid": "Enter the six digits your app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class SudoForm(forms.Form):
    password = forms.CharField(
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    code = forms.RegexField(
        label="Six-digit code from your authenticator app",
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        max_length=8,
        error_messages={"invalid": "Enter the six digits your app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
