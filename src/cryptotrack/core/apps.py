from django.apps import AppConfig
from django.core.signals import request_finished
from django.db.models import Field, ForeignObject

from cryptotrack.core.logging import unbind_request_id
from cryptotrack.core.lookups import AnyOf


class CoreConfig(AppConfig):
    name = "cryptotrack.core"
    label = "core"

    def ready(self) -> None:
        from cryptotrack import celery  # noqa: F401 - the app every shared_task sends through
        from cryptotrack.core import checks  # noqa: F401 - registers the deploy checks

        request_finished.connect(unbind_request_id, dispatch_uid="cryptotrack-unbind-request-id")
        for field_class in (Field, ForeignObject):  # relations keep lookups of their own
            field_class.register_lookup(AnyOf)
