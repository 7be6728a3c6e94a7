"""Tracking, positions and history belong to an exchange account, not only to a user.

Until now a user had at most one account, so each row gets that account (its label,
``default``, copied onto history). Subscriptions and current positions of users without
an account are deleted: they could never be polled. History without an account stays,
unlinked (as history of a deleted account does).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def link_rows_to_the_users_account(apps, schema_editor):
    exchange_account = apps.get_model("accounts", "ExchangeAccount")
    users_account = Subquery(
        exchange_account.objects.filter(user_id=OuterRef("user_id")).order_by("id").values("id")[:1]
    )
    users_label = Subquery(
        exchange_account.objects.filter(user_id=OuterRef("user_id"))
        .order_by("id")
        .values("label")[:1]
    )
    for name in ("TrackingSubscription", "Position"):
        model = apps.get_model("positions", name)
        model.objects.update(account_id=users_account)
        model.objects.filter(account_id__isnull=True).delete()
    snapshot = apps.get_model("positions", "PositionSnapshot")
    snapshot.objects.update(account_id=users_account, account_label=users_label)
    snapshot.objects.filter(account_label__isnull=True).update(account_label="")


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
        migrations.RunPython(link_rows_to_the_users_account, migrations.RunPython.noop),
    ]
