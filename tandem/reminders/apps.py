from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "tandem.reminders"
    label = "reminders"
    verbose_name = "Patient reminders"
