"""Writing files so that a failure never leaves a partial one behind, nor replaces the input."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

# The process's umask, read once: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` that replaces ``path`` only on success.

    If the block raises, the temporary file is removed and ``path`` is left
    as it was. The finished file gets the usual permissions (0666 minus the
    umask), not the 0600 of a temporary file. Through a symbolic link, the
    link's target is replaced, not the link; a pipe or a device (e.g.
    ``/dev/stdout``) is written into, as there is no file to replace.
    """
    # Through links as given: /dev/stdout into a pipe resolves to no path, yet opens.
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        with open(path, mode) as handle:
            yield handle
        return
    path = Path(os.path.realpath(path))
    if not path.parent.is_dir():  # else mkstemp names its temporary file in the error
        raise FileNotFoundError(f"No folder {path.parent} to write {path.name} into.")
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    os.close(descriptor)
    try:
        with open(temporary, mode) as handle:  # handle.name is the temporary path
            yield handle
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def check_not_same_file(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Refuse to write ``destination`` when it is the file ``source`` is read from.

    Also through a symbolic or hard link: replacing it would lose the data
    being read. Called before anything is read.
    """
    if os.path.exists(source) and os.path.exists(destination):
        if os.path.samefile(source, destination):
            raise ValueError(
                f"The output {destination} is the input file {source}: writing it would "
                "replace the data being read. Choose another output path."
            )
