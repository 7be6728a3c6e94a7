"""Several exchange accounts per user, told apart by a label unique per user ignoring case.

Every existing account (one per user until now) becomes the one labelled ``default``,
which is what signup and ``PUT /api/v1/me/kucoin`` keep acting on.
"""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_database_cache_table"),
    ]

    operations = [
        migrations.AddField(
            model_name="exchangeaccount",
            name="label",
            field=models.CharField(default="default", max_length=64),
            preserve_default=False,
        ),
        migrations.RemoveConstraint(
            model_name="exchangeaccount",
            name="one_account_per_exchange",
        ),
        migrations.AddConstraint(
            model_name="exchangeaccount",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("label"),
                models.F("user"),
                name="unique_account_label_per_user",
                violation_error_message="You already have an exchange account with this label.",
            ),
        ),
        migrations.AlterModelOptions(
            name="exchangeaccount",
            options={"ordering": ["id"]},
        ),
    ]
