from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "cryptotrack.alerts"
    label = "alerts"
