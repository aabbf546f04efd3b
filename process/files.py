"""Writing files so that a reader never sees half of one; saying how big they are."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    size: int
    sha256: str


def chunks_of(handle: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    """Read an open binary file in pieces."""
    while chunk := handle.read(size):
        yield chunk


def write_atomically(path: Path, chunks: Iterable[bytes]) -> WrittenFile:
    """Write ``chunks`` to ``path`` via a temporary file, hashing as it goes.

    If anything fails part-way, the previous file at ``path`` (if any) stays untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own, so that two processes writing the same path never share one.
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    partial = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return WrittenFile(path, size, digest.hexdigest())


def over_the_limit(size: int, limit: int, shown: Callable[[int], str]) -> str:
    """ "3.2 MB; the limit is 2.0 MB", in bytes where the rounded sizes would be alike
    (not "100.0 MB; the limit is 100.0 MB"). ``shown`` writes a size."""
    size_text, limit_text = shown(size), shown(limit)
    if size_text == limit_text:
        size_text, limit_text = f"{size:,} bytes", f"{limit:,} bytes"
    return f"{size_text}; the limit is {limit_text}"
