"""Sizes as people read them, in the reader's language: "1.4 MB" in English, "1,4 Mo"
in French (octets, with the decimal comma). The same in mail, digests and archive pages."""

from __future__ import annotations

from babel.numbers import format_decimal

UNITS = {
    "en": ("bytes", "KB", "MB", "GB"),
    "fr": ("octets", "Ko", "Mo", "Go"),
}


def human_size(size: int, language: str = "en") -> str:
    units = UNITS.get(language, UNITS["en"])
    value = float(size)
    for index, unit in enumerate(units):
        if value < 1024 or index == len(units) - 1:
            number = format_decimal(value, "#,##0" if index == 0 else "#,##0.0", locale=language)
            return f"{number}\u00a0{unit}" if language == "fr" else f"{number} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
