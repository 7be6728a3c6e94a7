from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cryptotrack.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from cryptotrack.accounts import (
            schema,  # noqa: F401 - registers the OpenAPI auth schemes
            user_cache,  # noqa: F401 - its invalidation receivers
        )
