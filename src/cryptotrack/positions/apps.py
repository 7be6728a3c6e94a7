from django.apps import AppConfig


class PositionsConfig(AppConfig):
    name = "cryptotrack.positions"
    label = "positions"

    def ready(self) -> None:
        from cryptotrack.accounts.signals import exchange_credentials_checked
        from cryptotrack.positions.services import on_credentials_checked

        exchange_credentials_checked.connect(
            on_credentials_checked, dispatch_uid="positions-resume"
        )
