"""`newsbot preview`, `feeds import/export` and `doctor` from the outside, as operators run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.storage.tinydb_store import TinyDBStore
from tests.builders import chat
from tests.conftest import ROOT, write_config
from tests.newsserver import NewsServer, article_page, rss

PARAS = [
    "Lithuanian President Gitanas Nausėda met NATO officials in Vilnius on Monday.",
    "They discussed the deployment of a German brigade and air defence along the border.",
    "The talks come as Lithuania raises defence spending above five percent of GDP.",
    "Officials said the brigade would be fully operational within two years.",
]
RU = [
    "Президент Литвы Гитанас Науседа встретился в Вильнюсе с представителями НАТО.",
    "Они обсудили размещение немецкой бригады и противовоздушную оборону на границе.",
    "Переговоры проходят на фоне роста оборонных расходов Литвы до пяти процентов ВВП.",
    "По словам чиновников, бригада будет полностью готова в течение двух лет.",
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **(env or {})})


def test_preview_json_and_text(tmp_path: Path, news: NewsServer) -> None:
    news.set("/a/en", article_page("Lithuania hosts NATO talks", PARAS))
    news.set("/a/ru", article_page("Литва принимает переговоры НАТО", RU))
    news.set("/feed.xml", rss("Baltic", [
        {"title": "Lithuania hosts NATO talks", "link": f"{news.url}/a/en",
         "description": "Short teaser"},
        {"title": "Литва принимает переговоры НАТО", "link": f"{news.url}/a/ru",
         "description": "Тизер"},
        {"title": "Weather in Madrid", "link": f"{news.url}/a/none",
         "description": "Sunny all week in Madrid, with no rain expected."},
    ]), "application/rss+xml")
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Baltic Times")])
    out = run("preview", "--config", str(config), "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 3
    assert all(set(r) == {"url", "title", "source", "language", "topics", "summary"}
               for r in rows)
    by_title = {r["title"]: r for r in rows}
    en, ru = by_title["Lithuania hosts NATO talks"], by_title["Литва принимает переговоры НАТО"]
    assert (en["language"], ru["language"]) == ("en", "ru")
    assert en["topics"] == ["lithuania"] and ru["topics"] == ["lithuania"]
    assert by_title["Weather in Madrid"]["topics"] == []
    assert en["summary"] and all(s.rstrip(".") in " ".join(PARAS) for s in
                                 en["summary"].split(". ") if s)
    assert ru["summary"] and "Enjoyed" not in ru["summary"]
    assert "Enjoyed" not in out.stdout and "Loading comments" not in out.stdout
    assert all(r["source"] == "Baltic Times" for r in rows)
    assert not (tmp_path / "data" / "articles").exists()
    assert not list((tmp_path / "data").glob("articles-*.json")), "preview stores nothing"

    only = run("preview", "--config", str(config), "--json", "--topic", "lithuania",
               "--limit", "1")
    assert len(only.stdout.splitlines()) == 1
    text = run("preview", "--config", str(config))
    assert "Lithuania hosts NATO talks" in text.stdout and "source: Baltic Times" in text.stdout
    bad = run("preview", "--config", str(config), "--topic", "mars")
    assert bad.returncode == 2 and "unknown topic" in bad.stderr

    stored = run("preview", "--config", str(config), "--json", "--store")
    assert stored.returncode == 0
    assert list((tmp_path / "data").glob("articles-*.json"))


def test_preview_survives_a_broken_feed(tmp_path: Path, news: NewsServer) -> None:
    news.set("/ok.xml", rss("ok", [{"title": "Minsk", "link": f"{news.url}/x",
                                    "description": " ".join(PARAS)}]), "application/rss+xml")
    news.set("/bad.xml", "<html>not a feed", "text/html")
    config = write_config(tmp_path, [(f"{news.url}/bad.xml", "Bad"),
                                     (f"{news.url}/ok.xml", "Ok"),
                                     (f"{news.url}/missing.xml", "Missing")])
    out = run("preview", "--config", str(config), "--json")
    assert out.returncode == 0
    assert len(out.stdout.splitlines()) == 1
    assert "Missing" in out.stderr and "Traceback" not in out.stderr


OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Feedly export</title></head>
  <body>
    <outline text="Baltics" title="Baltics">
      <outline type="rss" text="LRT English" title="LRT English"
               xmlUrl="https://www.lrt.lt/en/news-in-english?rss" htmlUrl="https://www.lrt.lt/en"/>
      <outline text="Nested" title="Nested">
        <outline type="rss" text="ERR News" title="ERR News" xmlUrl="https://news.err.ee/rss"
                 htmlUrl="https://news.err.ee/"/>
      </outline>
    </outline>
    <outline type="rss" text="Dup" title="Dup" xmlUrl="http://127.0.0.1:1/feed.xml"/>
  </body>
</opml>
"""


def test_opml_import_keeps_comments_and_export_round_trips(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("http://127.0.0.1:1/feed.xml", "Local")])
    config.write_text("# my precious comment\n" + config.read_text())
    opml = tmp_path / "feeds.opml"
    opml.write_text(OPML)
    out = run("feeds", "import", str(opml), "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "added 2" in out.stdout
    text = config.read_text()
    assert text.startswith("# my precious comment")
    assert text.index("127.0.0.1:1") < text.index("lrt.lt") < text.index("err.ee")
    exported = run("feeds", "export", "--config", str(config))
    assert exported.returncode == 0
    for url in ("https://www.lrt.lt/en/news-in-english?rss", "https://news.err.ee/rss"):
        assert url.replace("&", "&amp;") in exported.stdout
    (tmp_path / "back.opml").write_text(exported.stdout)
    again = run("feeds", "import", str(tmp_path / "back.opml"), "--config", str(config))
    assert "added 0" in again.stdout
    assert run("check-config", "--config", str(config)).returncode == 0


def test_doctor_checks_and_repairs(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    env = {"NEWSBOT_DATA_DIR": str(tmp_path / "d")}
    repo = TinyDBStore(tmp_path / "d")
    repo.put_chat(chat(1))
    repo.checkpoint()
    repo.put_chat(chat(2))
    repo.close()
    assert run("doctor", "--config", str(config), env=env).returncode == 0
    (tmp_path / "d" / "chats.json").write_text("{broken")
    check = run("doctor", "--config", str(config), env=env)
    assert check.returncode == 2 and "chats.json" in check.stderr
    started = run("run", "--config", str(config),
                  env={**env, "TELEGRAM_BOT_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                       "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"})
    assert started.returncode == 2 and "chats.json" in started.stderr
    repaired = run("doctor", "--config", str(config), "--repair", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "restored" in repaired.stdout


HOSTILE_OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>shared list</title></head><body>
  <outline type="rss" text="Metadata" xmlUrl="http://169.254.169.254/latest/meta-data/"/>
  <outline type="rss" text="Redis" xmlUrl="http://127.0.0.1:6379/"/>
  <outline type="rss" text="Mapped" xmlUrl="http://[::ffff:10.0.0.1]/feed"/>
  <outline type="rss" text="Intranet" xmlUrl="http://wiki.internal/rss"/>
  <outline type="rss" text="Public" xmlUrl="https://93.184.216.34/rss"/>
</body></opml>
"""


def test_opml_import_refuses_private_hosts_unless_allowed(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    opml = tmp_path / "shared.opml"
    opml.write_text(HOSTILE_OPML)
    out = run("feeds", "import", str(opml), "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "added 1" in out.stdout and "refused 4" in out.stdout
    for host in ("169.254.169.254", "127.0.0.1:6379", "::ffff:10.0.0.1", "wiki.internal"):
        assert host in out.stderr and host not in config.read_text()
    assert "--allow-private" in out.stderr and "Traceback" not in out.stderr
    forced = run("feeds", "import", str(opml), "--allow-private", "--config", str(config))
    assert "added 4" in forced.stdout, forced.stdout
    assert "169.254.169.254" in config.read_text()
