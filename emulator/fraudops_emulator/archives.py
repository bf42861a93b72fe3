"""Archive checks, pure Python so that they are unit-tested without LocalStack."""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile


def unsafe_zip_entries(archive: bytes) -> list[str]:
    """Entries that would land outside the extraction folder: ``../x``, ``/etc/x``, symlinks."""
    bad = []
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            normalized = posixpath.normpath(name)
            escapes = normalized == ".." or normalized.startswith("../")
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            if name.startswith("/") or escapes or is_link:
                bad.append(info.filename)
    return bad
