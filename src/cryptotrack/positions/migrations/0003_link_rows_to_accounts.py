"""Each row gets its user's account: until now a user had at most one (now ``default``).

Subscriptions and current positions of users without an account are deleted: they could
never be polled. History without an account stays, unlinked (as history of a deleted
account does), and keeps the label on the rows that had one.
"""

from django.db import migrations
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
        ("positions", "0002_positions_per_exchange_account"),
    ]

    operations = [
        migrations.RunPython(link_rows_to_the_users_account, migrations.RunPython.noop),
    ]
