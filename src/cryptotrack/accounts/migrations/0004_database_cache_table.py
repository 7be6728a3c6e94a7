"""The database cache's table, made by ``migrate`` itself.

On the embedded default (no ``REDIS_URL``) the caches are Django's database cache, whose
table ``createcachetable`` makes, not ``migrate``. Saving a user writes to that cache (the
JWT user cache's tombstone, ``accounts/user_cache.py``), so ``./manage.py migrate`` then
``createsuperuser`` failed with "no such table: cache". ``createcachetable`` does nothing
where every table exists or no database cache is configured (Redis).
"""

from typing import Any

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps: Any, schema_editor: Any) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_unique_sign_in_email")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
