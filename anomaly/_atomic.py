"""Writing files so that a failure never leaves a partial one behind, nor replaces the input."""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

# The process's umask, read once: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


# Names of an open descriptor of this process: the shell's redirections live there.
_DESCRIPTOR = re.compile(
    r"/dev/(?:fd/(\d+)|(stdin|stdout|stderr))|/proc/(?:self|thread-self|(\d+))/fd/(\d+)"
)
_STANDARD = {"stdin": 0, "stdout": 1, "stderr": 2}


def _descriptor(path: str | os.PathLike) -> int | None:
    """The descriptor ``path`` names, as given (``/dev/stdout``, ``/dev/fd/3``,
    ``/proc/self/fd/1``), or None."""
    match = _DESCRIPTOR.fullmatch(os.path.abspath(path))
    if match is None:
        return None
    fd, standard, pid, proc_fd = match.groups()
    if pid is not None and int(pid) != os.getpid():
        return None
    return _STANDARD[standard] if standard else int(fd if fd is not None else proc_fd)


def is_stream(path: str | os.PathLike) -> bool:
    """Whether ``path`` is written into rather than replaced: a descriptor of this process
    (``/dev/stdout``, even where the shell points it at a regular file), a pipe or a
    device."""
    if _descriptor(path) is not None:
        return True
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def check_writable(path: str | os.PathLike) -> None:
    """Refuse an output that :func:`atomic_write` could not write, naming ``path``: called
    before the work that would fill it."""
    if is_stream(path):
        return
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a folder, not a file", str(path))
    if not real.parent.is_dir():
        raise FileNotFoundError(f"No folder {real.parent} to write {real.name} into.")


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` that replaces ``path`` only on success.

    If the block raises, the temporary file is removed and ``path`` is left
    as it was. The finished file gets the usual permissions (0666 minus the
    umask), not the 0600 of a temporary file. Through a symbolic link, the
    link's target is replaced, not the link; a stream (:func:`is_stream`, e.g.
    ``/dev/stdout``) is written into, as there is no file to replace (nor one
    to empty or rename over where the shell points ``/dev/stdout`` at a file:
    the descriptor is written through, so ``>> file`` appends).
    """
    check_writable(path)
    descriptor = _descriptor(path)
    if descriptor is not None:
        # Through a copy of the descriptor, at the shell's position (or end, under >>):
        # reopening the name would start from the beginning of its file.
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        with os.fdopen(os.dup(descriptor), mode) as handle:
            yield handle
        return
    if is_stream(path):
        with open(path, mode) as handle:
            yield handle
        return
    path = Path(os.path.realpath(path))
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
