from django.apps import AppConfig


class BalancesConfig(AppConfig):
    name = "cryptotrack.balances"
    label = "balances"
