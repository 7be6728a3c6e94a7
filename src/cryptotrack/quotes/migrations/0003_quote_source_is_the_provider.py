from django.db import migrations, models


class Migration(migrations.Migration):
    """``source`` was why a quote was fetched; it becomes ``trigger``, and ``source`` now
    names the provider (every quote so far came from Alpha Vantage)."""

    dependencies = [
        ("quotes", "0002_forced_fetch_usage"),
    ]

    operations = [
        migrations.RenameField(model_name="quote", old_name="source", new_name="trigger"),
        migrations.AddField(
            model_name="quote",
            name="source",
            field=models.CharField(
                choices=[
                    ("alphavantage", "Alpha Vantage"),
                    ("coingecko", "CoinGecko"),
                    ("kucoin", "KuCoin"),
                ],
                default="alphavantage",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="quote",
            index=models.Index(
                fields=["source", "-fetched_at", "-id"], name="quote_source_newest_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="quote",
            index=models.Index(
                fields=["source", "from_currency", "to_currency", "-fetched_at", "-id"],
                name="quote_source_pair_newest_idx",
            ),
        ),
    ]
