#!/usr/bin/env python
"""Carshop's command-line entry point: Django's management commands plus the operations commands."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carshop.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now, to report bad configuration in one line
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"carshop: configuration error: {exc}\n")
        sys.exit(2)

    import django

    django.setup()  # logging too, so that the "command started" line reaches app.log

    from carshop.audit import operator_context

    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in {"runserver", "help", "--help", "-h", "version", "--version"}:
        execute_from_command_line(sys.argv)
    else:
        # Every change a command makes is credited to the operator who ran it.
        with operator_context(command):
            execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
