"""Run by test_embedded_sqlite in a subprocess on a fresh SQLite file (the embedded default):
one alert crosses, is claimed, emailed (locmem backend) and put to sleep. Prints JSON."""

from __future__ import annotations

import json
import os
from decimal import Decimal

from cryptotrack.simulators.coingecko import CoinGeckoSimulator


def main() -> None:
    with CoinGeckoSimulator() as sim:
        os.environ["COINGECKO_URL"] = sim.url
        import django

        from cryptotrack.config import prepare_var_dir

        prepare_var_dir()  # the fresh VAR_DIR's generated keys, as make run does
        django.setup()
        from django.core import mail
        from django.core.management import call_command

        from cryptotrack.accounts.services import user_create
        from cryptotrack.alerts import selectors
        from cryptotrack.alerts.models import Alert, AlertNotification
        from cryptotrack.alerts.monitor import check_alerts
        from cryptotrack.alerts.notifications import deliver_notifications

        call_command("migrate", verbosity=0)
        user = user_create(
            name="Embedded", username="embedded", password="correct-horse-battery-42",
            email="embedded@example.com",
        )  # fmt: skip
        above = Alert.objects.create(
            user=user, coin="bitcoin", currency="usd", target_price=Decimal(70000),
            direction="above",
        )  # fmt: skip
        Alert.objects.create(
            user=user, coin="ethereum", currency="eur", target_price=Decimal(1),
            direction="below",
        )  # fmt: skip
        batches: list[list[int]] = []
        first = check_alerts(enqueue=batches.append)
        sim.set_price("bitcoin", "usd", "70000")
        second = check_alerts(enqueue=batches.append)
        outcome = deliver_notifications([i for batch in batches for i in batch])
        above.refresh_from_db()
        note = AlertNotification.objects.get()
        print(
            json.dumps(
                {
                    "pairs": selectors.active_pairs(),
                    "triggered": [first.triggered, second.triggered],
                    "sent": len(outcome.sent),
                    "emails": [m.to for m in mail.outbox],
                    "status": above.status,
                    "triggered_price": str(above.triggered_price),
                    "note_triggered_at_matches": note.triggered_at == above.triggered_at,
                }
            )
        )


if __name__ == "__main__":
    main()
