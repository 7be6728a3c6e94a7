"""Emails unique ignoring case, so that an email names one account to sign in as.

Accounts that already share an email (ignoring case) keep it, but lose email sign-in
(``email_sign_in = False``): none of them can be chosen over the others, and none is
changed behind its owner's back. They still sign in by username (docs/api.md).
"""

import django.db.models.functions.text
from typing import Any

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_email_sign_in_for_shared_emails(apps: Any, schema_editor: Any) -> None:
    user = apps.get_model("accounts", "User")
    shared = (
        user.objects.exclude(email="")
        .annotate(folded=Lower("email"))
        .values("folded")
        .annotate(holders=Count("id"))
        .filter(holders__gt=1)
        .values("folded")
    )
    user.objects.annotate(folded=Lower("email")).filter(folded__in=shared).update(
        email_sign_in=False
    )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_username_unique_ignoring_case'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='email_sign_in',
            field=models.BooleanField(default=True, help_text='Whether this user may sign in with their email.'),
        ),
        migrations.RunPython(refuse_email_sign_in_for_shared_emails, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('email'), condition=models.Q(('email_sign_in', True), models.Q(('email', ''), _negated=True)), name='unique_sign_in_email_ignoring_case', violation_error_message='This email is taken.'),
        ),
    ]
