from django.apps import AppConfig


class PositionsConfig(AppConfig):
    name = "cryptotrack.positions"
    label = "positions"

    def ready(self) -> None:
        from cryptotrack.accounts import signals
        from cryptotrack.positions import services

        signals.exchange_credentials_checked.connect(
            services.on_credentials_checked, dispatch_uid="positions-resume"
        )
        signals.exchange_account_renamed.connect(
            services.on_account_renamed, dispatch_uid="positions-renamed"
        )
        signals.exchange_account_deleting.connect(
            services.on_account_deleting, dispatch_uid="positions-deleting"
        )
