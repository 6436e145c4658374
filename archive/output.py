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
        self._folders: set[str] = set()

    def path(self, relative: str) -> str:
        """The file's absolute path; the relative path may not climb out or be absolute.
        (String checks, not resolve(): a full build checks some 10,000 paths.)"""
        normal = os.path.normpath(relative)
        if os.path.isabs(normal) or normal == ".." or normal.startswith("../") or "\0" in normal:
            raise UnsafePath(f"{relative!r} is outside the site folder")
        return os.path.join(self.root, normal)

    def write(self, relative: str, content: str | bytes) -> bool:
        """Write the file if its content changed; return whether it did."""
        data = content.encode() if isinstance(content, str) else content
        target = self.path(relative)
        try:
            with open(target, "rb") as existing:
                if existing.read() == data:
                    self.counts.unchanged += 1
                    return False
        except FileNotFoundError:
            # A new file: written in place (a build that stops halfway leaves no
            # manifest entry for it, so the next build writes it again).
            self._folder_of(target)
            with open(target, "wb") as new:
                new.write(data)
        else:
            # A changed page is replaced whole: a reader never sees half of it.
            temporary = f"{target}.tmp"
            with open(temporary, "wb") as new:
                new.write(data)
            os.replace(temporary, target)
        self.counts.written += 1
        return True

    def append(self, relative: str, content: bytes) -> None:
        """Add to the end of an existing file (archive.files.write_mbox): in place, as
        mail programs append to an mbox."""
        with open(self.path(relative), "ab") as existing:
            existing.write(content)
        self.counts.written += 1

    def install(self, relative: str, source: Path) -> bool:
        """Put a blob in the site: a hard link when the store is on the same disk, else a
        copy. Content-addressed paths never change, so an existing file is kept."""
        target = self.path(relative)
        if os.path.exists(target):
            return False
        self._folder_of(target)
        try:
            os.link(source, target)
        except FileExistsError:  # another renderer just put it there
            return False
        except OSError:  # another filesystem: a copy, put in place whole
            temporary = f"{target}.tmp{os.getpid()}"
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        self.counts.files += 1
        return True

    def remove(self, relative: str) -> None:
        """Remove a page's folder (or a file) that no longer belongs in the site."""
        target = self.path(relative)
        if os.path.normpath(relative) == ".":
            return
        if os.path.isdir(target):
            shutil.rmtree(target)
        elif os.path.exists(target):
            os.unlink(target)
        else:
            return
        self.counts.removed += 1

    def remove_empty_folders(self, relative: str) -> None:
        """Remove the folders above a removed file that it left empty (files/ab/abcd.../)."""
        folder = os.path.dirname(os.path.normpath(relative))
        while folder:
            try:
                os.rmdir(self.path(folder))
            except OSError:
                return
            folder = os.path.dirname(folder)

    def _folder_of(self, target: str) -> None:
        folder = os.path.dirname(target)
        if folder not in self._folders:
            try:
                os.mkdir(folder)  # the usual case: its parent is there (one system call)
            except FileExistsError:
                pass
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
