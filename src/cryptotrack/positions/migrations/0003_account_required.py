"""Every subscription and current position now has its account (0002 filled them).

Separate from 0002 because PostgreSQL refuses to alter a table in the transaction
that just updated its rows' foreign keys ("pending trigger events").
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("positions", "0002_positions_per_exchange_account"),
    ]

    operations = [
        migrations.AlterField(
            model_name="positionsnapshot",
            name="account_label",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="trackingsubscription",
            name="account",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tracking",
                to="accounts.exchangeaccount",
            ),
        ),
        migrations.AlterField(
            model_name="position",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="positions",
                to="accounts.exchangeaccount",
            ),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.UniqueConstraint(
                fields=("account", "symbol", "side"), name="one_position_per_account_symbol_side"
            ),
        ),
    ]
