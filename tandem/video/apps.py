from django.apps import AppConfig


class VideoConfig(AppConfig):
    name = "tandem.video"
    label = "video"
    verbose_name = "Video visits"
