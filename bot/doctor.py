"""``newsbot doctor``: check the data files, and restore the previous generation if asked."""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import StorageError
from bot.storage.tinydb_store import (
    FILE_MODE,
    FOLDER_MODE,
    JOURNAL,
    SCHEMA_VERSION,
    TABLE,
    TinyDBStore,
)


@dataclass(slots=True)
class DoctorReport:
    """What the check found and what the repair did."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0


def mode_warnings(folder: Path) -> list[str]:
    """The data folder and files that other users may read (user ids, votes, chat titles)."""
    found = []
    for path in [folder, *sorted(folder.iterdir())]:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wanted = FOLDER_MODE if path.is_dir() else FILE_MODE
            found.append(f"{path}: readable by other users (mode {mode:04o}); newsbot keeps "
                         f"it {wanted:04o} and has set that")
    return found


def _check_file(path: Path) -> str | None:
    try:
        data = json.loads(path.read_bytes() or b"{}")
    except (ValueError, OSError) as exc:
        return f"{path}: unreadable JSON ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get(TABLE, {}), dict):
        return f"{path}: not a newsbot TinyDB file (no {TABLE!r} table)"
    return None


def run_doctor(folder: Path, *, repair: bool) -> DoctorReport:
    """Check every data file in ``folder``; with ``repair``, restore broken ones from ``.prev``.

    The check ends by opening the store, which verifies records, the schema and the journal.
    """
    report = DoctorReport()
    if not folder.is_dir():
        report.problems.append(f"{folder}: data folder does not exist")
        return report
    meta = folder / "meta.json"
    if meta.exists():
        try:
            version = int(json.loads(meta.read_text())["schema"])
            if version > SCHEMA_VERSION:
                report.problems.append(f"{meta}: schema {version} is newer than this newsbot")
        except (ValueError, KeyError, TypeError, OSError):
            report.problems.append(f"{meta}: unreadable schema version")
            if repair:
                meta.write_text(json.dumps({"schema": SCHEMA_VERSION}))
                report.repaired.append(f"{meta}: rewritten with schema {SCHEMA_VERSION}")
    for path in sorted(folder.glob("*.json")):
        if path.name == "meta.json":
            continue
        report.files += 1
        problem = _check_file(path)
        if problem is None:
            continue
        report.problems.append(problem)
        if repair:
            prev = path.with_name(path.name + ".prev")
            if prev.exists() and _check_file(prev) is None:
                broken = path.with_name(path.name + ".broken")
                shutil.copy2(path, broken)
                shutil.copy2(prev, path)
                report.repaired.append(f"{path}: restored from {prev.name} "
                                       f"(broken copy kept as {broken.name})")
            else:
                report.repaired.append(f"{path}: no valid previous generation; left as is")
    report.warnings = mode_warnings(folder)
    journal = folder / JOURNAL
    if journal.exists():
        report.files += 1
    if not report.problems or repair:
        try:
            TinyDBStore(folder).close()
        except StorageError as exc:
            report.problems.append(str(exc))
    return report
