"""A folder's sha256 (provenance of every result) is the digest the rglob version gave.

``jsonio.sha256_of`` walks folders with scandir instead of Path objects; the
digest must not change, or stored results would stop matching their inputs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from psalm_bench.jsonio import sha256_of


def _rglob_digest(path: Path) -> str:
    """The definition: sorted(rglob('*') files), relative name, NUL, sha256 of the bytes."""
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(child.relative_to(path)).encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(child.read_bytes()).digest())
    return digest.hexdigest()


@pytest.mark.skipif(os.name != "posix", reason="links and sort order as on POSIX")
def test_folder_digest_is_the_rglob_digest(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for rel in ["a/x", "a-b/x", "a.b", "A/y", ".hidden/z", "a/b/c/d.png", "z", "\u00e4/\u00fc.png", "a b/c", "a/b-c", "a/b/c-d"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    (root / "empty").mkdir()
    os.symlink(root / "a", root / "link-to-folder")  # not entered, as rglob
    os.symlink(root / "z", root / "link-to-file")  # hashed, as is_file() follows it
    os.symlink(root / "nowhere", root / "broken")
    assert sha256_of(root) == _rglob_digest(root)
    (root / "a" / "x").write_bytes(b"changed")
    assert sha256_of(root) == _rglob_digest(root)


def test_a_file_s_digest_is_its_sha256(tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_bytes(b"[1, 2]")
    assert sha256_of(f) == hashlib.sha256(b"[1, 2]").hexdigest()
    assert sha256_of(tmp_path / "missing") == ""
