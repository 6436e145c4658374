"""Jinja2 templates for every mail and page, and the example configuration.

This file only makes the folder installable; PATH is where the templates are.
"""

from pathlib import Path

PATH = Path(__file__).parent
