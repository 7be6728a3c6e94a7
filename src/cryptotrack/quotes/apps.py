from django.apps import AppConfig


class QuotesConfig(AppConfig):
    name = "cryptotrack.quotes"
    label = "quotes"
