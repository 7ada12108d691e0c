"""No Docker engine runs here, so check what can be checked without one."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

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


# ------------------------------------------------------------------ deploy/compose.yaml
def _compose() -> dict[str, Any]:
    parsed = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert isinstance(parsed, dict)
    return parsed


def _newsbot_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items()
            if s.get("command", [""])[0] == "newsbot"}


def test_compose_wires_a_database_two_replicas_and_an_ingest_worker() -> None:
    compose = _compose()
    services = compose["services"]
    db = services["db"]
    assert db["image"].startswith("postgres:")
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the database keeps its data in a named volume"
    bots = _newsbot_services(compose)
    roles = sorted(s["command"][s["command"].index("--role") + 1] for s in bots.values())
    assert roles == ["all", "all", "ingest"], roles
    for name, service in bots.items():
        assert service["command"][:2] == ["newsbot", "run"], name
        assert service["depends_on"]["db"]["condition"] == "service_healthy", name
        env = service["environment"]
        url = urlsplit(re.sub(r"\$\{[^}]*\}", "x", env["NEWSBOT_DATABASE_URL"]))
        assert url.scheme == "postgresql" and url.hostname == "db", name
        assert url.path.lstrip("/") == db["environment"]["POSTGRES_DB"]
        assert url.username == db["environment"]["POSTGRES_USER"]
        # secrets come from the environment of whoever runs compose, never from this file
        assert env["TELEGRAM_BOT_TOKEN"].startswith("${TELEGRAM_BOT_TOKEN")
        assert "${POSTGRES_PASSWORD" in env["NEWSBOT_DATABASE_URL"]
        assert service["build"] == "..", "the image is this repository's Dockerfile"


def test_compose_roles_are_what_newsbot_run_accepts() -> None:
    from bot.roles import ROLES  # noqa: PLC0415

    for service in _newsbot_services(_compose()).values():
        command = service["command"]
        assert command[command.index("--role") + 1] in ROLES
