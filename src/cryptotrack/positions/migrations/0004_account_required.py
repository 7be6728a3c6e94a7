"""Every subscription and current position now has its account (0003 filled them)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("positions", "0003_link_rows_to_accounts"),
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
