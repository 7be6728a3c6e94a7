from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "cryptotrack.alerts"
    label = "alerts"

    def ready(self) -> None:
        from cryptotrack.alerts.position_evaluation import on_positions_recorded
        from cryptotrack.positions.events import positions_recorded

        positions_recorded.connect(on_positions_recorded, dispatch_uid="position-alerts")
