"""The site folder: files written only when their content changed, always inside it.

Writing an unchanged page again would only make web caches and rsync work; comparing
first also gives the build its report of what it really wrote. Every path is checked
to stay inside the folder, whatever a message's data put in it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


class UnsafePath(ValueError):
    """A path that would leave the site folder."""


@dataclass
class Counts:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    files: int = 0


class SiteOutput:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.counts = Counts()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, relative: str) -> Path:
        target = (self.root / relative).resolve()
        if target != self.root and self.root not in target.parents:
            raise UnsafePath(f"{relative!r} is outside the site folder")
        return target

    def write(self, relative: str, content: str | bytes) -> bool:
        """Write the file if its content changed; return whether it did."""
        data = content.encode() if isinstance(content, str) else content
        target = self.path(relative)
        try:
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                self.counts.unchanged += 1
                return False
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        self.counts.written += 1
        return True

    def install(self, relative: str, source: Path) -> bool:
        """Put a blob in the site: a hard link when the store is on the same disk, else a
        copy. Content-addressed paths never change, so an existing file is kept."""
        target = self.path(relative)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        self.counts.files += 1
        return True

    def remove(self, relative: str) -> None:
        """Remove a page's folder (or a file) that no longer belongs in the site."""
        target = self.path(relative)
        if target == self.root:
            return
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        else:
            return
        self.counts.removed += 1
