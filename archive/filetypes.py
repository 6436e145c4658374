"""What an attached file is, in words a reader knows ("PDF", "Word document", "PNG
image"), from its content type and its name: never a raw MIME type. The words are the
page's labels (file_types in labels.*.toml); an unknown file shows its extension
upper-cased ("DWG"), or the label for a file without one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

# Label key -> the content types and the extensions that name it.
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pdf": (("application/pdf",), (".pdf",)),
    "word": (
        (
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (".doc", ".docx"),
    ),
    "text_document": (
        ("application/vnd.oasis.opendocument.text", "application/rtf", "text/rtf"),
        (".odt", ".rtf"),
    ),
    "spreadsheet": (
        (
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.oasis.opendocument.spreadsheet",
            "text/csv",
        ),
        (".xls", ".xlsx", ".ods", ".csv"),
    ),
    "presentation": (
        (
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.presentation",
        ),
        (".ppt", ".pptx", ".odp"),
    ),
    "zip": (("application/zip", "application/x-zip-compressed"), (".zip",)),
    "compressed": (
        ("application/gzip", "application/x-7z-compressed", "application/x-rar-compressed"),
        (".gz", ".tgz", ".7z", ".rar", ".tar", ".bz2", ".xz"),
    ),
    "text": (("text/plain",), (".txt",)),
    "calendar": (("text/calendar",), (".ics",)),
    "email": (("message/rfc822",), (".eml",)),
}
# Families named with the file's format ("PNG image", "MP3 audio"), by content type
# or, for a file sent as application/octet-stream, by extension.
FAMILIES = {
    "image": (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".tif", ".tiff", ".heic"),
    "audio": (".mp3", ".ogg", ".oga", ".m4a", ".wav", ".flac", ".opus"),
    "video": (".mp4", ".m4v", ".mov", ".webm", ".avi", ".mkv", ".mpeg", ".mpg"),
}
# Extensions whose format has a better-known name.
FORMATS = {"jpg": "JPEG", "jpe": "JPEG", "tif": "TIFF", "svg": "SVG", "mpga": "MP3"}


def file_type(filename: str, content_type: str, labels: Mapping[str, str]) -> str:
    """The file's kind in the labels' language."""
    content_type = content_type.lower().split(";", 1)[0].strip()
    suffix = PurePosixPath(filename.lower()).suffix
    for key, (types, _) in KINDS.items():
        if content_type in types:
            return labels[key]
    family = content_type.split("/", 1)[0]
    if family not in FAMILIES:
        family = next((name for name, known in FAMILIES.items() if suffix in known), "")
    extension = suffix.lstrip(".")
    if family:
        format_name = FORMATS.get(extension) or extension.upper() or _subtype(content_type)
        return labels[family].format(format=format_name)
    for key, (_, suffixes) in KINDS.items():
        if suffix in suffixes:
            return labels[key]
    return extension.upper() if extension else labels["unknown"]


def _subtype(content_type: str) -> str:
    """ "image/x-png" -> "PNG", "image/svg+xml" -> "SVG"."""
    subtype = content_type.split("/", 1)[-1].removeprefix("x-").split("+", 1)[0]
    return FORMATS.get(subtype, subtype.upper())
