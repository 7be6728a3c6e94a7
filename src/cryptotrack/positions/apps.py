from django.apps import AppConfig


class PositionsConfig(AppConfig):
    name = "cryptotrack.positions"
    label = "positions"
