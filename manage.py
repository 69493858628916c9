#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def cli_language(environ: os._Environ[str] | dict[str, str]) -> str:
    """The command line speaks the terminal's language: Chinese under LANG=zh_CN.UTF-8 and
    the like, English otherwise (the first of LC_ALL, LC_MESSAGES, LANG that is set decides)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "zh-hans" if value.lower().startswith("zh") else "en"
    return "en"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itnio_portal.settings.base")
    os.environ.setdefault("PORTAL_LANGUAGE", cli_language(os.environ))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
