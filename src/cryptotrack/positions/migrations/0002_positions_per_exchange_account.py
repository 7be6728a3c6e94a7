"""Tracking, positions and history belong to an exchange account, not only to a user.

The columns, nullable; 0003 fills them, 0004 makes them required. Three migrations
because PostgreSQL refuses to alter a table (or create the foreign keys' deferred
indexes) in the transaction that just updated its rows ("pending trigger events").
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_exchange_account_labels"),
        ("positions", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="trackingsubscription",
            name="account",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tracking",
                to="accounts.exchangeaccount",
            ),
        ),
        migrations.AlterField(
            model_name="trackingsubscription",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tracking_subscriptions",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="account",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="positions",
                to="accounts.exchangeaccount",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="position",
            name="one_position_per_symbol_side",
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="account",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="position_snapshots",
                to="accounts.exchangeaccount",
            ),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="account_label",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
    ]
