from django.apps import AppConfig
from django.core.signals import request_finished

from cryptotrack.core.logging import unbind_request_id


class CoreConfig(AppConfig):
    name = "cryptotrack.core"
    label = "core"

    def ready(self) -> None:
        request_finished.connect(unbind_request_id, dispatch_uid="cryptotrack-unbind-request-id")
