from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "tandem.credentials"
    label = "credentials"
    verbose_name = "Credentials and eligibility"
