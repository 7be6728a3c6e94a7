from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "cryptotrack.web"
    label = "web"
    verbose_name = "Web app"
