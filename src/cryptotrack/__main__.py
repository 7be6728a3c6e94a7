"""``python -m cryptotrack <command>``: Django's manage.py, installed with the package."""

import os
import sys

from cryptotrack.config import prepare_var_dir


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")
    prepare_var_dir()  # the embedded default's keys, before the settings read them
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
