from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "cryptotrack.notify"
    label = "notify"
    verbose_name = "Notification channels"
