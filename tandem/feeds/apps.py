from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "tandem.feeds"
    label = "feeds"
    verbose_name = "Calendar feeds"
