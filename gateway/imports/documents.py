"""A folder of documents (minutes, agendas, slides) as posts: one per file, the file
attached, its name as subject and its modification time as date."""

from __future__ import annotations

import datetime as dt
import email.message
import email.policy
import email.utils
import hashlib
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.imports.sources import SourceMail
from gateway.mail.filenames import safe_filename
from gateway.mail.sizes import human_size
from gateway.outbound.typography import typeset

if TYPE_CHECKING:
    import jinja2


def document_messages(
    folder: Path, sender: str, recipient: str, templates: jinja2.Environment, language: str
) -> Iterator[SourceMail]:
    """One message per file below `folder` (hidden files skipped), in name order."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    template = templates.get_template(f"mail/document_post.{language}.txt")
    domain = recipient.rpartition("@")[2]
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder)):
        content = path.read_bytes()
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        name = safe_filename(path.name)
        message = email.message.EmailMessage(policy=email.policy.SMTP)
        message["From"] = sender
        message["To"] = recipient
        message["Subject"] = path.stem
        message["Date"] = email.utils.format_datetime(modified)
        # From the content and the name: importing the folder again adds nothing.
        digest = hashlib.sha256(content + name.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<document-{digest}@{domain}>"
        relative = str(path.relative_to(folder))
        body = typeset(
            template.render(
                filename=name, folder=relative, size=human_size(len(content), language)
            ),
            language,
        )
        message.set_content(body, charset="utf-8")
        maintype, subtype = _content_type(path)
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        yield SourceMail(message.as_bytes(), modified)


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _content_type(path: Path) -> tuple[str, str]:
    guessed, _ = mimetypes.guess_type(path.name)
    maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
    return maintype, subtype
