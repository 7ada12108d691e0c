"""No Docker engine runs here, so check what can be checked without one."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_every_copy_source_exists() -> None:
    sources = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            sources += line.split()[1:-1]
    assert sources, "no COPY lines found"
    for src in sources:
        assert (ROOT / src).exists(), f"COPY source {src} is missing"


def test_entrypoint_exists_in_installed_package() -> None:
    cmd = re.search(r'^CMD \["([^"]+)"', DOCKERFILE, re.M)
    assert cmd is not None
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get(cmd.group(1)) == "bot.__main__:main"


def test_runs_as_non_root_with_data_volume() -> None:
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "NEWSBOT_DATA_DIR=/data" in DOCKERFILE
    assert DOCKERFILE.count("FROM ") >= 2, "multi-stage build expected"
