from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cryptotrack.accounts"
    label = "accounts"
    verbose_name = "Accounts"
