"""Zip archives that must never be extracted into a function's code folder."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from fraudops_emulator.archives import unsafe_zip_entries


def _zip(entries: dict[str, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, mode in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, "x")
    return buf.getvalue()


REGULAR = stat.S_IFREG | 0o644


def test_a_normal_archive_is_safe() -> None:
    # Given code and a nested package, When checked, Then nothing is flagged
    archive = _zip({"app.py": REGULAR, "pkg/mod.py": REGULAR, "pkg/./x.py": REGULAR})
    assert unsafe_zip_entries(archive) == []


@pytest.mark.parametrize(
    "name",
    ["../evil.py", "a/../../evil.py", "/etc/passwd", "..\\evil.py", ".."],
)
def test_entries_that_escape_are_flagged(name: str) -> None:
    # Given an archive with one escaping entry, When checked, Then exactly that entry is flagged
    archive = _zip({"app.py": REGULAR, name: REGULAR})
    assert unsafe_zip_entries(archive) == [name]


def test_symlinks_are_flagged() -> None:
    archive = _zip({"app.py": REGULAR, "link": stat.S_IFLNK | 0o777})
    assert unsafe_zip_entries(archive) == ["link"]
