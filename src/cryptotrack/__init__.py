"""cryptotrack: track crypto exchange positions, exchange rates and price alerts.

Importing the package imports nothing else: the simulators (``python -m
cryptotrack.simulators.kucoin``) need neither Django nor Celery, and importing both cost each
of them ~2 s of CPU at every start of `make run`. Django processes load the Celery app from
``CoreConfig.ready`` (core/apps.py), so ``shared_task`` always sends through it;
``celery -A cryptotrack`` finds ``cryptotrack.celery`` by itself.
"""
