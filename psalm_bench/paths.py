"""Paths taken from a user's file stay inside the folder they are relative to.

A panoptic ``pred.json`` whose ``file_name`` is ``../panoptic_val2017/x.png``
or ``/etc/passwd`` would otherwise score the board's own answers or probe the
server's files. Every name read from a JSON goes through :func:`inside`, which
resolves it (symlinks included) and refuses anything outside the folder
without revealing whether the outside file exists.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from psalm_bench.errors import InputError


def inside(folder: str | Path, name: str, *, file: str | Path | None = None, record: str | None = None, links: bool = True) -> Path:
    """``folder / name`` when it stays inside ``folder``; else an InputError naming the record.

    ``links`` also resolves symlinks (for submissions); ground truth kept as
    links into a store (git-annex, DVC) passes with ``links=False``.
    """
    folder = Path(folder)
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InputError(f"file name {name!r} is not a relative file name", file=file, record=record)
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise InputError(f"file name {name!r} is absolute; it must be relative to its folder", file=file, record=record)
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise InputError(f"file name {name!r} leaves its folder ('..')", file=file, record=record)
    if not links:
        return folder / name
    base = folder.resolve()
    target = (folder / name).resolve()
    if target != base and base not in target.parents:
        raise InputError(f"file name {name!r} leaves its folder (through a link)", file=file, record=record)
    return folder / name


def kind_of(path: str | Path) -> str | None:
    """What ``path`` is, in words ('a folder', 'a FIFO', ...), or None if it does not exist."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def require_folder(path: str | Path, what: str) -> Path:
    """``path`` if it is a folder; otherwise one accurate line (missing, or what it is instead)."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "a folder":
        return path
    if kind is None:
        raise InputError(f"{what} folder not found", file=path)
    raise InputError(f"is {kind}, expected the {what} folder", file=path)


def output_file(path: str | Path) -> Path:
    """``path`` if a written file may replace it (missing, or a regular file).

    Writers rename ``PATH.partial`` over ``PATH``: onto a FIFO or a device
    (``/dev/full`` as root) that rename would replace the node itself, and a
    folder cannot be replaced at all, so all three are refused before any work.
    """
    path = Path(path)
    kind = kind_of(path)
    if kind in (None, "a file"):
        return path
    if kind == "a folder":
        raise InputError("is a directory, expected a file to write", file=path)
    raise InputError(f"is {kind}, expected a file to write", file=path)


def output_folder(path: str | Path) -> Path:
    """``path`` if it is a folder or missing; a file, FIFO or device there is one line."""
    path = Path(path)
    kind = kind_of(path)
    if kind in (None, "a folder"):
        return path
    raise InputError(f"is {kind}, expected a folder to write into", file=path)
