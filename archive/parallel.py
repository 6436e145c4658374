"""Pages rendered on every core: forked children each take a share of the work.

Fork, not spawn: a child starts with the index and the compiled templates already in
memory, so it only renders and writes. Only a process that runs no other thread may
fork safely (a lock held by another thread would stay held in the child forever), so
the CLI asks for it and `gateway serve`'s publisher does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import NoReturn
from typing import TypeVar

from archive.output import Counts

Item = TypeVar("Item")


class ChildFailed(RuntimeError):
    """A forked renderer failed; its error is in the message."""


def share_out(
    items: Sequence[Item],
    work: Callable[[Sequence[Item]], Counts],
    workers: int,
    after_fork: Callable[[], None],
    child_done: Callable[[int], None] = lambda items: None,
) -> Counts:
    """Run work() over items split in `workers` parts, the first part in this process;
    return the counts of all parts added up. child_done(n) tells of each child's n items
    once it is done (for a progress bar that only this process draws)."""
    parts = [items[index::workers] for index in range(workers)] if workers > 1 else [items]
    children: list[tuple[int, int, int]] = []
    for part in parts[1:]:
        if not part:
            continue
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            _child(part, work, after_fork, writer)
        os.close(writer)
        children.append((pid, reader, len(part)))
    total = work(parts[0])
    errors: list[str] = []
    for pid, reader, size in children:
        with os.fdopen(reader) as pipe:
            text = pipe.read()
        os.waitpid(pid, 0)
        child_done(size)
        result: dict[str, Any] = json.loads(text) if text else {"error": "it died"}
        if "error" in result:
            errors.append(str(result["error"]))
            continue
        for name, value in result["counts"].items():
            setattr(total, name, getattr(total, name) + value)
    if errors:
        raise ChildFailed("; ".join(errors))
    return total


def _child(
    part: Sequence[Item],
    work: Callable[[Sequence[Item]], Counts],
    after_fork: Callable[[], None],
    writer: int,
) -> NoReturn:
    """A forked renderer: its share, then its counts (or its error) on the pipe."""
    status = 0
    result: dict[str, Any]
    try:
        after_fork()
        result = {"counts": work(part).__dict__}
    except BaseException as error:  # reported to the parent, which raises it
        result, status = {"error": f"{type(error).__name__}: {error}"}, 1
    with os.fdopen(writer, "w") as pipe:
        json.dump(result, pipe)
    os._exit(status)
