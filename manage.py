#!/usr/bin/env python
"""Django's manage.py; the installed ``tandem`` command does the same."""

from tandem.cli import main

if __name__ == "__main__":
    main()
