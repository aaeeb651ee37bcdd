"""A process that died mid-upload leaves temporary files; the next start removes those old enough to be leftovers."""

from __future__ import annotations

import os
import time
from pathlib import Path

from services.documents.app import STALE_SECONDS, sweep_leftovers
from services.documents.settings import Settings


def test_old_temporary_files_are_swept_and_fresh_ones_kept(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path)
    spool, incoming = tmp_path / "spool", tmp_path / "objects" / ".incoming"
    for folder in (spool, incoming):
        folder.mkdir(parents=True)
    old = [spool / "upload-old", incoming / "old.part"]
    fresh = [spool / "upload-new", incoming / "new.part"]
    for path in (*old, *fresh):
        path.write_bytes(b"partial")
    stale = time.time() - STALE_SECONDS - 60
    for path in old:
        os.utime(path, (stale, stale))
    assert sorted(sweep_leftovers(settings)) == sorted(old)
    assert [p for p in (*old, *fresh) if p.exists()] == fresh
