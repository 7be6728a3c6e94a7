from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "cryptotrack.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from cryptotrack.audit import receivers  # noqa: F401 - password changes from any path
