from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cryptotrack.core"
    label = "core"
