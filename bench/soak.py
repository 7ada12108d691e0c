"""Soak: a simulated month of newsbot against the Bot API emulator (limits on) and a news site.

A :class:`bot.clock.ScaledClock` shared by this harness, the news site and every bot process
runs ``--days`` simulated days in ``--day-seconds`` real seconds each. The bot is the real
program (bench/soak_bot.py = ``newsbot run`` on that clock) in its own process.

* 50 feeds publish ``--articles-per-day`` items a day in five languages (some items only as
  teasers, so the bot fetches and extracts the page; some stories are syndicated to a second
  feed and must be delivered once).
* 2,000 chats (private, groups, channels) follow topics with mixed instant / digest modes,
  time zones, quiet hours and language filters; a few block the bot during the month.
* People press Yes/No on delivered messages and sometimes change their minds.
* The bot is restarted ``--restarts`` times at random moments, half of them with SIGKILL;
  the Bot API drops connections, answers 502, garbage or slowly for a while, four times.

Checks: every matched story reached every subscribed active chat exactly once (a duplicate
is allowed only for a chat with a send in flight at a SIGKILL, the documented window); no
acknowledged vote is lost (checked against the store at every restart and at the end);
the data directory stays bounded under ``retention_days``; RSS stays flat; no 429 storms;
the bot recovers within a minute of each network fault. Figures go to BENCHMARKS.md
("Reliability"). Exit status 1 when a check fails.

With ``--processes N`` (N > 1) the bot is N ``newsbot run`` processes on one PostgreSQL
database (embedded, started here): each restart stops a random one of them (the leader's
SIGKILL is what can duplicate a message), and ``--db-restart`` stops the database for 15 s
once, halfway through. Figures then go to BENCHMARKS.md ("Scaling out: soak").

Run: ``make soak`` (about 35 minutes) or ``python bench/soak.py --days 3`` for a quick look;
``python bench/soak.py --days 7 --processes 3 --db-restart`` for the many-process week.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import rss_kb  # noqa: E402
from bench.report import write_section  # noqa: E402
from bot.clock import ScaledClock  # noqa: E402
from bot.models import Chat, ChatKey, ChatType, DeliveryMode, QuietHours  # noqa: E402
from bot.render import parse_vote  # noqa: E402
from bot.roles import LEASE_SECONDS, RENEW_SECONDS  # noqa: E402
from bot.storage.base import Repository  # noqa: E402
from bot.storage.tinydb_store import TinyDBStore  # noqa: E402
from bot.texts import text as ui_text  # noqa: E402
from tests.emulator.server import Emulator, QuietHandler, QuietHTTPServer, Sent  # noqa: E402

TOKEN = "123456789:SOAKtokenSOAKtokenSOAKtokenSOAKtoken1"
SIM_START = datetime(2026, 3, 1, tzinfo=UTC)  # March: both DST changes (US 8th, EU 29th)
LANGS = [("en", 30), ("ru", 8), ("lt", 6), ("pl", 3), ("de", 3)]
TOPIC_NAMES = ["Zorvania", "Kelmoria", "Trastevia", "Ulgrava", "Pendoria", "Quarsely",
               "Vintravia", "Morloch", "Ysterlund", "Baxtania", "Corvessa", "Drumholt",
               "Elvarion", "Fennwick", "Gorlavia", "Hestmark", "Islevar", "Jorunda",
               "Krastavo", "Lumbria", "Mirvane", "Norvakia", "Ostrelia", "Pryzmar"]
ZONES = ["Europe/Vilnius", "Europe/Minsk", "Europe/Warsaw", "Europe/Berlin",
         "America/New_York", "Asia/Tokyo", "UTC"]
ITEMS_IN_FEED = 40           # about a simulated day of each feed
POLL_SECONDS = 7200           # simulated
FAULTS = ["drop", "5xx", "garbage", "slow"]
FAULT_SECONDS = 15.0          # real
MIN_UPTIME = 5.0              # real seconds a bot runs before the next restart
DB_DOWN_SECONDS = 15.0       # real: the database restart of --db-restart
LEADING = "leading: updates"
WORD = re.compile(r"[^\W\d_]{3,}")
HREF = re.compile(r'href="([^"]+)"')


# --------------------------------------------------------------------------- the plan
@dataclass
class Story:
    """One news story; ``copies`` are (feed, url) where it appears."""

    id: int
    topic: int | None
    language: str
    title: str
    text: str
    published: datetime
    copies: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Item:
    """One feed item (a copy of a story in one feed)."""

    url: str
    story: Story
    published: datetime
    teaser: bool


@dataclass
class SimChat:
    """A chat of the simulation and what it asked for."""

    chat: Chat
    emulator_type: str
    blocked_at: datetime | None = None


@dataclass
class Plan:
    """Everything the month will contain, generated up front from one seed."""

    feeds: list[tuple[str, str, bool]]            # (name, language, teaser-only)
    items: list[list[Item]]                       # per feed, by publish time
    stories: list[Story]
    chats: list[SimChat]
    restarts: list[tuple[datetime, str]]
    faults: list[tuple[datetime, str]]


def vocabulary() -> dict[str, list[str]]:
    """Words per language from the first 20 language-ID sentences of each language.

    Read from ../shared/corpus/langid (third-party data, never copied into the repository).
    """
    words: dict[str, set[str]] = defaultdict(set)
    taken: Counter[str] = Counter()
    path = ROOT.parent / "shared" / "corpus" / "langid" / "lingua_sentences.jsonl"
    if not path.is_file():
        sys.exit(f"the soak needs the shared corpus: {path} is absent")
    for line in path.open(encoding="utf-8"):
        row = json.loads(line)
        if taken[row["lang"]] >= 20:
            continue
        taken[row["lang"]] += 1
        words[row["lang"]].update(w.lower() for w in WORD.findall(row["text"]))
    return {lang: sorted(ws) for lang, ws in words.items()}


def sentence(rng: random.Random, words: list[str], n: int) -> str:
    """A sentence of ``n`` random words of one language."""
    picked = [rng.choice(words) for _ in range(n)]
    return " ".join(picked).capitalize() + "."


def make_plan(args: argparse.Namespace, site: str) -> Plan:
    """Generate feeds, stories, chats, restarts and faults for the month."""
    rng = random.Random(args.seed)
    vocab = vocabulary()
    feeds: list[tuple[str, str, bool]] = []
    for lang, count in LANGS:
        for i in range(max(1, round(count * args.feeds / 50))):
            feeds.append((f"Soak {lang.upper()} {i + 1}", lang, rng.random() < 0.2))
    by_lang: dict[str, list[int]] = defaultdict(list)
    for index, (_name, lang, _teaser) in enumerate(feeds):
        by_lang[lang].append(index)
    items: list[list[Item]] = [[] for _ in feeds]
    stories: list[Story] = []
    serial = 0
    for day in range(args.days):
        for _ in range(args.articles_per_day):
            feed = rng.randrange(len(feeds))
            lang = feeds[feed][1]
            words = vocab[lang]
            topic = rng.randrange(len(TOPIC_NAMES)) if rng.random() < args.match_rate else None
            title_words = [rng.choice(words) for _ in range(6)]
            body = [sentence(rng, words, rng.randint(9, 15)) for _ in range(8)]
            if topic is not None:
                title_words.insert(rng.randrange(len(title_words)), TOPIC_NAMES[topic])
                body[0] = body[0][:-1] + f" {TOPIC_NAMES[topic]}."
            published = SIM_START + timedelta(days=day, seconds=rng.uniform(0, 86400))
            story = Story(len(stories), topic, lang, " ".join(title_words).capitalize(),
                          " ".join(body), published)
            stories.append(story)
            targets = [feed]
            if rng.random() < 0.08 and len(by_lang[lang]) > 1:
                targets.append(rng.choice([f for f in by_lang[lang] if f != feed]))
            for copy, target in enumerate(targets):
                serial += 1
                url = f"{site}/a/{target}/{serial}"
                at = published + timedelta(minutes=rng.uniform(10, 60) * copy)
                story.copies.append((target, url))
                items[target].append(Item(url, story, at, feeds[target][2]))
    for feed_items in items:
        feed_items.sort(key=lambda it: it.published)
    chats = make_chats(rng, args.chats, [f[1] for f in feeds])
    month = timedelta(days=args.days)
    # Restarts at random moments, one in each equal slice of the month (so one outage never
    # runs into the next: at this speed a minute of downtime is a simulated day and a half,
    # longer than a feed keeps its items); faults halfway between two restarts.
    slice_ = (month - timedelta(hours=12)) / max(1, args.restarts)
    moments = [SIM_START + timedelta(hours=6) + slice_ * (i + rng.uniform(0.2, 0.8))
               for i in range(args.restarts)]
    kinds = ["kill"] * args.restarts if args.kill_leader else \
        ["kill", "term"] * (args.restarts // 2) + ["kill"] * (args.restarts % 2)
    rng.shuffle(kinds)
    marks = [SIM_START, *moments, SIM_START + month]
    gaps = sorted(range(len(marks) - 1), key=lambda i: marks[i] - marks[i + 1])[:len(FAULTS)]
    fault_at = sorted(marks[i] + (marks[i + 1] - marks[i]) / 2 for i in gaps)
    return Plan(feeds, items, stories, chats, list(zip(moments, kinds, strict=True)),
                list(zip(fault_at, FAULTS, strict=True)))


def make_chats(rng: random.Random, count: int, feed_langs: list[str]) -> list[SimChat]:
    """Private chats, groups and channels with mixed settings."""
    langs = sorted(set(feed_langs))
    chats: list[SimChat] = []
    for i in range(count):
        roll = i % 10
        if roll < 6:
            key, ctype, etype, p_instant = ChatKey(5_000_000 + i), ChatType.PRIVATE, "private", 0.4
        elif roll < 9:
            key, ctype, etype = ChatKey(-1_000_000_000_000 - i), ChatType.SUPERGROUP, "supergroup"
            p_instant = 0.25
        else:
            key, ctype, etype = ChatKey(-1_000_500_000_000 - i), ChatType.CHANNEL, "channel"
            p_instant = 0.3
        topics = frozenset(f"t{rng.randrange(len(TOPIC_NAMES))}"
                           for _ in range(1 if rng.random() < 0.7 else 2))
        quiet = None
        if rng.random() < 0.3:
            quiet = QuietHours(*rng.choice([("22:00", "07:00"), ("23:30", "06:30"),
                                            ("13:00", "14:00")]))
        languages: tuple[str, ...] = ()
        if rng.random() < 0.15:
            languages = tuple(sorted(rng.sample(langs, rng.randint(1, 2))))
        chat = Chat(key, ctype, title=f"soak {i}",
                    mode=DeliveryMode.INSTANT if rng.random() < p_instant
                    else DeliveryMode.DIGEST,
                    digest_time=f"{rng.randint(6, 21):02d}:{rng.choice(['00', '30'])}",
                    timezone=rng.choice(ZONES), languages=languages, quiet=quiet,
                    topics=topics, created_at=SIM_START, digest_since=SIM_START)
        blocked = None
        if ctype is ChatType.PRIVATE and rng.random() < 0.01:
            blocked = SIM_START + timedelta(days=rng.uniform(1, 25))
        chats.append(SimChat(chat, etype, blocked))
    return chats


# --------------------------------------------------------------------------- the news site
class SimSite:
    """Feeds whose items appear at their simulated publish time; article pages for teasers."""

    def __init__(self, clock_box: list[ScaledClock]) -> None:
        self.clock_box = clock_box
        self.plan: Plan | None = None
        self.pages: dict[str, Item] = {}
        self.requests = 0
        self.server = QuietHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def load(self, plan: Plan) -> None:
        self.plan = plan
        self.pages = {it.url: it for items in plan.items for it in items}

    def feed_xml(self, index: int) -> tuple[str, str]:
        assert self.plan is not None
        now = self.clock_box[0].now()
        items = self.plan.items[index]
        end = bisect.bisect_right([it.published for it in items], now)
        shown = items[max(0, end - ITEMS_IN_FEED):end]
        name, lang, _teaser = self.plan.feeds[index]
        parts = []
        for it in reversed(shown):
            desc = it.story.text
            if it.teaser:
                desc = desc[:160].rsplit(" ", 1)[0] + " …"
            parts.append(f"<item><title>{escape(it.story.title)}</title>"
                         f"<link>{escape(it.url)}</link><guid>{escape(it.url)}</guid>"
                         f"<pubDate>{format_datetime(it.published)}</pubDate>"
                         f"<description>{escape(desc)}</description></item>")
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{escape(name)}</title><link>{self.url}/</link>"
                f"<language>{lang}</language>{''.join(parts)}</channel></rss>")
        return body, f'"{index}-{end}"'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                site.requests += 1
                path = self.path
                if path.startswith("/feed/"):
                    body, etag = site.feed_xml(int(path.split("/")[2].split(".")[0]))
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304, b"", "", etag)
                    return self._send(200, body.encode(), "application/rss+xml", etag)
                item = site.pages.get(site.url + path)
                if item is None:
                    return self._send(404, b"", "text/plain")
                paragraphs = "".join(f"<p>{escape(s.strip())}.</p>"
                                     for s in item.story.text.split(".") if s.strip())
                page = (f"<html><head><title>{escape(item.story.title)}</title></head><body>"
                        f"<nav>Home | World | Sport</nav><article><h1>"
                        f"{escape(item.story.title)}</h1>{paragraphs}</article>"
                        f"<footer>Enjoyed this article? Yes (75) No (3)</footer></body></html>")
                return self._send(200, page.encode(), "text/html; charset=utf-8")

            def _send(self, status: int, body: bytes, ctype: str, etag: str = "") -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


# --------------------------------------------------------------------------- the bot
def write_config(folder: Path, plan: Plan, site: str, retention: int) -> Path:
    """The soak's newsbot.toml: its feeds and topics, ``retention`` days kept."""
    feeds = "\n".join(
        f'[[feeds]]\nurl = "{site}/feed/{i}.xml"\nname = "{name}"\nlanguage = "{lang}"\n'
        f"interval_seconds = {POLL_SECONDS}\n"
        for i, (name, lang, _t) in enumerate(plan.feeds))
    topics = "\n".join(
        f'[[topics]]\nid = "t{i}"\nname = "{name}"\naliases = ["{name}", "{name}n*"]\n'
        for i, name in enumerate(TOPIC_NAMES))
    path = folder / "newsbot.toml"
    path.write_text(textwrap.dedent(f"""
        [telegram]
        admins = []

        [storage]
        dir = "{folder / 'data'}"
        retention_days = {retention}

        [ingest]
        interval_seconds = {POLL_SECONDS}
        timeout_seconds = 10

        [summary]
        algorithm = "hybrid"
        sentences = 3
        """) + "\n" + feeds + "\n" + topics, encoding="utf-8")
    return path


class BotRunner:
    """Starts and stops the bot process on the shared clock."""

    def __init__(self, config: Path, emulator: Emulator, clock: ScaledClock,
                 database_url: str | None = None, name: str = "bot") -> None:
        self.config = config
        self.name = name
        self.env = {**os.environ, "TELEGRAM_BOT_TOKEN": emulator.token,
                    "TELEGRAM_API_URL": emulator.base_url, "NEWSBOT_LOG_LEVEL": "INFO",
                    "SOAK_START": clock.start.isoformat(),
                    "SOAK_WALL_ANCHOR": repr(clock.wall_anchor), "SOAK_RATE": repr(clock.rate)}
        self.env.pop("NEWSBOT_DATA_DIR", None)
        if database_url:
            self.env["NEWSBOT_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.started_at = 0.0
        self.log_path = config.parent / f"{name}-00.log"

    def leading(self) -> bool:
        """Whether this run of the process leads (sends) now, as far as its log says."""
        lines = self.log_path.read_text(errors="replace").splitlines() \
            if self.log_path.exists() else []
        state = False
        for line in lines:
            if LEADING in line:
                state = True
            elif "leader role lost" in line:
                state = False
        return state

    def uptime(self) -> float:
        """Real seconds since the process was started."""
        return time.monotonic() - self.started_at

    def start(self) -> None:
        self.runs += 1
        self.started_at = time.monotonic()
        self.log_path = self.config.parent / f"{self.name}-{self.runs:02d}.log"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "soak_bot.py"), str(self.config)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop(self, kind: str) -> tuple[int, float]:
        """Stop with SIGKILL (``kill``) or SIGTERM (``term``); return (exit code, seconds)."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGKILL if kind == "kill" else signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code, time.monotonic() - began

    def rss_mb(self) -> tuple[float, float]:
        """(main process, main + worker processes) resident set in MB."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0, 0.0
        main = rss_kb(self.proc.pid)
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return main / 1024, (main + sum(rss_kb(k) for k in kids)) / 1024


def dir_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- votes
@dataclass
class Press:
    """A button press waiting for the bot's answer."""

    query_id: str
    article_id: str
    user: int
    value: int
    sent_at: float
    sent_wall: float  # time.time(), the clock of the kill and fault records


class Voter:
    """Presses vote buttons on delivered messages and remembers what the bot acknowledged."""

    def __init__(self, emulator: Emulator, rng: random.Random) -> None:
        self.emulator = emulator
        self.rng = rng
        self.seen = 0
        self.planned: list[tuple[float, int, Sent, str]] = []   # (when, user, message, data)
        self.waiting: list[Press] = []
        self.acked: dict[tuple[str, int], int] = {}
        # values a press may have stored without the user hearing back (answer lost)
        self.maybe: dict[tuple[str, int], set[int]] = defaultdict(set)
        self.presses = 0
        self.acks = 0
        self.stale = 0
        self.unanswered = 0
        self.unanswered_at: list[float] = []   # time.time() of each unanswered press
        self.answer_seconds: list[float] = []  # press to answer, each answered press
        self.ok_texts = {ui_text(k, "en") for k in ("vote_counted", "vote_moved", "vote_same")}

    def step(self, now: float) -> None:
        with self.emulator.lock:
            new = self.emulator.messages[self.seen:]
            self.seen = len(self.emulator.messages)
        for message in new:
            votes = [d for row in message.buttons() for _l, d in row if parse_vote(d)]
            if not votes:
                continue
            private = message.chat_id > 0
            if self.rng.random() > (0.15 if private else 0.4):
                continue
            voters = [message.chat_id] if private else \
                [10_000 + self.rng.randrange(20_000) for _ in range(self.rng.randint(1, 4))]
            rows = [r for r in message.buttons() if any(parse_vote(d) for _l, d in r)]
            for user in voters:
                row = self.rng.choice(rows)
                data = row[0][1] if self.rng.random() < 0.7 else row[-1][1]
                self.planned.append((now + self.rng.uniform(0.5, 8.0), user, message, data))
        due = [p for p in self.planned if p[0] <= now]
        self.planned = [p for p in self.planned if p[0] > now]
        busy = {(p.article_id, p.user) for p in self.waiting}
        for when, user, message, data in due:
            parsed = parse_vote(data)
            assert parsed is not None
            if (parsed[0], user) in busy:
                # One press per person and article at a time: the bot handles updates
                # concurrently, so two in flight could land in either order.
                self.planned.append((when + 1.0, user, message, data))
                continue
            busy.add((parsed[0], user))
            query = self.emulator.press(user, message, data=data)
            self.presses += 1
            self.waiting.append(Press(query, parsed[0], user, parsed[1], now, time.time()))
        still: list[Press] = []
        for press in self.waiting:
            answer = self.emulator.answer_for(press.query_id)
            key = (press.article_id, press.user)
            if answer is None:
                if now - press.sent_at < 120:
                    still.append(press)
                else:
                    self.unanswered += 1
                    self.unanswered_at.append(press.sent_wall)
                    self.maybe[key].add(press.value)
                continue
            self.answer_seconds.append(answer["answered_at"] - press.sent_at)
            if answer.get("text") in self.ok_texts:
                self.acks += 1
                self.acked[key] = press.value
                self.maybe.pop(key, None)
                if self.rng.random() < 0.15:   # changes their mind later
                    self._plan_change(press, now)
            else:   # expired button, or "could not be saved"; may or may not be stored
                self.stale += 1
                self.maybe[key].add(press.value)
        self.waiting = still

    def _plan_change(self, press: Press, now: float) -> None:
        for message in reversed(self.emulator.messages[-4000:]):
            for row in message.buttons():
                for _l, data in row:
                    parsed = parse_vote(data)
                    if parsed and parsed[0] == press.article_id and parsed[1] != press.value:
                        self.planned.append((now + self.rng.uniform(1, 6), press.user,
                                             message, data))
                        return


# --------------------------------------------------------------------------- checks
@dataclass
class Outcome:
    """What the month delivered, per story and chat."""

    expected: int = 0
    delivered: int = 0
    lost: list[tuple[int, int]] = field(default_factory=list)
    duplicates: list[tuple[int, int, int, float]] = field(default_factory=list)
    unexpected: int = 0
    messages: int = 0
    copies_at: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    first_port: dict[tuple[int, int], int] = field(default_factory=dict)


def check_deliveries(plan: Plan, emulator: Emulator, active_end: datetime) -> Outcome:
    """Compare what chats received with what they asked for."""
    url_story = {url: s.id for s in plan.stories for _f, url in s.copies}
    got: dict[tuple[int, int], int] = Counter()
    first_at: dict[tuple[int, int], float] = {}
    out = Outcome()
    chat_ids = {c.chat.key.chat_id for c in plan.chats}
    blocked = {c.chat.key.chat_id for c in plan.chats if c.blocked_at is not None}
    for message in emulator.sent():
        if message.chat_id not in chat_ids:
            continue
        out.messages += 1
        for url in HREF.findall(message.html):
            story = url_story.get(url.replace("&amp;", "&"))
            if story is not None:
                got[(message.chat_id, story)] += 1
                first_at.setdefault((message.chat_id, story), message.at)
                out.first_port.setdefault((message.chat_id, story), message.client_port)
                out.copies_at.setdefault((message.chat_id, story), []).append(message.at)
    by_topic: dict[str, list[SimChat]] = defaultdict(list)
    for sc in plan.chats:
        for t in sc.chat.topics:
            by_topic[t].append(sc)
    expected: set[tuple[int, int]] = set()
    for story in plan.stories:
        if story.topic is None or story.published > active_end:
            continue
        for sc in by_topic[f"t{story.topic}"]:
            if sc.chat.languages and story.language not in sc.chat.languages:
                continue
            if sc.chat.key.chat_id in blocked:
                continue
            expected.add((sc.chat.key.chat_id, story.id))
    out.expected = len(expected)
    for pair in expected:
        n = got.get(pair, 0)
        if n == 0:
            out.lost.append(pair)
        else:
            out.delivered += 1
    for pair, n in got.items():
        if n > 1:
            out.duplicates.append((*pair, n, first_at[pair]))
        if pair not in expected and pair[0] not in blocked:
            out.unexpected += 1
    return out


def check_votes(open_store: Callable[[], Repository],
                voter: Voter) -> tuple[int, int, int, int]:
    """Open the store; return (checked, lost, pruned, pending deliveries).

    The data folder is opened with the bot stopped; a database with the others running.
    """
    repo = open_store()
    try:
        checked = lost = pruned = 0
        in_flight: dict[tuple[str, int], set[int]] = defaultdict(set)
        for press in voter.waiting:  # pressed, not answered yet: may already be stored
            in_flight[(press.article_id, press.user)].add(press.value)
        for (article_id, user), value in voter.acked.items():
            if repo.get_article(article_id) is None:
                pruned += 1
                continue
            checked += 1
            stored = repo.get_vote(article_id, user)
            # A later press whose answer never arrived may have moved the vote.
            possible = voter.maybe.get((article_id, user), set()) | in_flight[(article_id, user)]
            if stored != value and stored not in possible:
                lost += 1
        return checked, lost, pruned, len(repo.pending())
    finally:
        repo.close()


class Database:
    """Where the soak keeps the bot's data: the data folder, or an embedded PostgreSQL."""

    def __init__(self, postgres: bool) -> None:
        self.server: Any = None
        self.url: str | None = None
        if postgres:
            from tests.pg import TestPostgres  # noqa: PLC0415 - only for --processes

            self.server = TestPostgres().start()
            self.server.wait_ready()
            self.url = self.server.database()

    def open(self, data: Path, clock: ScaledClock, *, sole: bool = False) -> Repository:
        """The store, opened beside running bots (a database) or alone (a data folder)."""
        if self.url is None:
            return TinyDBStore(data, clock)
        from bot.storage.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(self.url, clock, lock="sole" if sole else "none")

    def size(self, data: Path) -> int:
        """Bytes on disk: the data folder, or the database."""
        if self.url is None:
            return dir_bytes(data)
        import psycopg  # noqa: PLC0415 - only for --processes

        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def restart(self, down: float) -> None:
        """Stop the server (connections cut), wait ``down`` seconds, start it again."""
        self.server.pause()
        time.sleep(down)
        self.server.resume()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


# --------------------------------------------------------------------------- the month
def run(args: argparse.Namespace) -> int:
    rate = 86400.0 / args.day_seconds
    clock_box: list[ScaledClock] = []
    site = SimSite(clock_box)
    plan = make_plan(args, site.url)
    site.load(plan)
    emulator = Emulator(TOKEN, limits=True).start()
    matched = sum(1 for s in plan.stories if s.topic is not None)
    print(f"plan: {len(plan.feeds)} feeds, {sum(len(i) for i in plan.items)} items "
          f"({len(plan.stories)} stories, {matched} on a topic), {len(plan.chats)} chats, "
          f"{len(plan.restarts)} restarts, {args.days} days x {args.day_seconds:g} s",
          flush=True)
    rng = random.Random(args.seed + 1)
    with tempfile.TemporaryDirectory(prefix="newsbot-soak-") as tmp_name:
        tmp = Path(tmp_name)
        if args.keep:
            tmp = Path(tempfile.mkdtemp(prefix="newsbot-soak-kept-"))
        config = write_config(tmp, plan, site.url, args.retention_days)
        data = tmp / "data"
        seed_clock = ScaledClock(SIM_START, time.time(), rate)
        database = Database(args.processes > 1)
        url = database.url
        repo = database.open(data, seed_clock, sole=True)
        with repo.batch():
            for sc in plan.chats:
                repo.put_chat(sc.chat)
                emulator.chat(sc.chat.key.chat_id, sc.emulator_type, sc.chat.title)
        repo.close()
        clock = ScaledClock(SIM_START, time.time() + 3.0, rate)
        clock_box.append(clock)
        runners = [BotRunner(config, emulator, clock, url, f"bot{n}")
                   for n in range(args.processes)]
        for runner in runners:
            runner.start()
        db_restart_at = SIM_START + timedelta(days=args.days / 2) if (
            args.db_restart and url) else None
        db_log: list[dict[str, Any]] = []
        voter = Voter(emulator, rng)
        end = SIM_START + timedelta(days=args.days)
        finish = end + timedelta(days=1)            # a quiet day for the last digests
        restarts = list(plan.restarts)
        faults = list(plan.faults)
        blocks = sorted((sc.blocked_at, sc.chat.key.chat_id) for sc in plan.chats
                        if sc.blocked_at is not None)
        days: list[dict[str, float]] = []
        next_day = SIM_START + timedelta(days=1)
        restart_log: list[dict[str, Any]] = []
        fault_log: list[dict[str, Any]] = []
        vote_checks: list[tuple[int, int, int, int]] = []
        active_fault: tuple[str, float] | None = None
        fault_started = 0.0
        started = time.monotonic()
        rng_restarts = random.Random(args.seed + 2)
        victim = rng_restarts.randrange(len(runners))
        while True:
            now = clock.now()
            wall = time.monotonic()
            voter.step(wall)
            while blocks and blocks[0][0] <= now:
                _at, chat_id = blocks.pop(0)
                emulator.chats[chat_id].blocked = True
            if active_fault is None and faults and faults[0][0] <= now:
                _at, kind = faults.pop(0)
                emulator.fault = kind
                emulator.faulted_requests = 0
                active_fault = (kind, wall)
                fault_started = time.time()
            elif active_fault is not None and wall - active_fault[1] >= FAULT_SECONDS:
                emulator.fault = None
                window = (fault_started, time.time())
                fault_log.append({**recovery(emulator, active_fault[0], wall),
                                  "window": window})
                active_fault = None
            # A restart that falls due while the last one is still starting waits a little: a
            # signal in the interpreter's first ~0.2 s (before newsbot runs) meets Python's
            # default action, which tells nothing about newsbot.
            if args.kill_leader:
                leaders = [i for i, r in enumerate(runners) if r.leading()]
                if leaders:
                    victim = leaders[0]
            runner = runners[victim]
            if restarts and restarts[0][0] <= now and active_fault is None \
                    and runner.uptime() >= MIN_UPTIME:
                _at, kind = restarts.pop(0)
                with emulator.lock:
                    calls_at_kill = len(emulator.calls)
                killed_at = time.time()
                was_leader = runner.leading()
                code, took = runner.stop(kind)
                checked = check_votes(lambda: database.open(data, clock), voter)
                vote_checks.append(checked)
                with emulator.lock:
                    calls_before = len(emulator.calls)
                runner.start()
                restart_log.append({"kind": kind, "day": (now - SIM_START).days + 1,
                                    "exit": code, "stop_s": took, "at": killed_at,
                                    "calls_at_kill": calls_at_kill,
                                    "calls_before": calls_before, "process": runner.name,
                                    "leader": was_leader or len(runners) == 1})
                victim = rng_restarts.randrange(len(runners))  # the next one to stop
                print(f"  restart {len(restart_log)} ({kind} {runner.name}"
                      f"{', the leader' if was_leader else ''}) on day "
                      f"{(now - SIM_START).days + 1}: exit {code} in {took:.1f} s; votes "
                      f"checked {checked[0]}, lost {checked[1]}", flush=True)
            if db_restart_at is not None and now >= db_restart_at and active_fault is None \
                    and all(r.uptime() >= MIN_UPTIME for r in runners):
                # (not while a process starts: at start an unreachable database is exit 2)
                db_restart_at = None
                down_at = time.time()
                database.restart(DB_DOWN_SECONDS)
                db_log.append({**recovery(emulator, "database restart", time.monotonic()),
                               "down_at": down_at})
                print(f"  database restarted on day {(now - SIM_START).days + 1}: first "
                      f"message {_secs(db_log[-1]['first_send'])} after", flush=True)
            if now >= next_day:
                main_mb, total_mb = max(r.rss_mb() for r in runners)
                with emulator.lock:
                    sends = len(emulator.messages)
                days.append({"day": (next_day - SIM_START).days, "rss": main_mb,
                             "rss_all": total_mb, "disk": database.size(data) / 1e6,
                             "messages": sends, "r429": emulator.count_429,
                             "lag": (clock.now() - next_day).total_seconds()})
                print(f"  day {days[-1]['day']:>2}: {sends} messages, "
                      f"{emulator.count_429} x 429, RSS {main_mb:.0f} MB "
                      f"(+workers {total_mb:.0f}), disk {days[-1]['disk']:.1f} MB, "
                      f"votes {voter.acks}", flush=True)
                next_day += timedelta(days=1)
            if now >= finish:
                break
            time.sleep(0.1)
        # the month is over: let the last sends settle, then stop gracefully. Not before a
        # standby could have taken over from a process killed at the very end: until its
        # lease runs out nothing is sent, so five quiet seconds then prove nothing (the
        # likely cause of one run's 18 deliveries left pending after a leader SIGKILL on
        # its last day, which the check counted as lost).
        settle = time.monotonic()
        last_stop = max([r["at"] for r in restart_log] + [f["down_at"] for f in db_log],
                        default=0.0)
        takeover_done = last_stop + LEASE_SECONDS + RENEW_SECONDS + 10.0
        last = -1
        while time.monotonic() - settle < 120:
            voter.step(time.monotonic())
            with emulator.lock:
                count = len(emulator.messages)
            if count == last and not voter.waiting and not voter.planned \
                    and time.time() >= takeover_done:
                break
            last = count
            time.sleep(5)
        for runner in runners:
            code, took = runner.stop("term")
            restart_log.append({"kind": "final", "day": args.days + 1, "exit": code,
                                "stop_s": took, "at": time.time()})
        final_votes = check_votes(lambda: database.open(data, clock), voter)
        vote_checks.append(final_votes)
        elapsed = time.monotonic() - started
        outcome = check_deliveries(plan, emulator, end)
        disk_final = database.size(data) / 1e6
        tracebacks = sum(p.read_text(errors="replace").count("Traceback")
                         for p in tmp.glob("bot*.log"))
        database.close()
    emulator.stop()
    return report(args, plan, outcome, days, restart_log, fault_log + db_log, vote_checks,
                  voter, emulator, elapsed, disk_final, tracebacks)


def killed_bots_ports(emulator: Emulator, restarts: list[dict[str, Any]]) -> list[
        tuple[float, set[int]]]:
    """For each SIGKILL: (when, the client ports the killed bot's calls came from)."""
    out = []
    since = 0
    with emulator.lock:
        for r in restarts:
            # Only the leader sends: a standby's kill can't explain a duplicate.
            if r["kind"] == "kill" and r.get("leader", True):
                out.append((r["at"], set(emulator.call_ports[since:r["calls_at_kill"]])))
            since = r.get("calls_before", since)
    return out


def explain_duplicates(duplicates: list[tuple[int, int, int, float]],
                       first_port: dict[tuple[int, int], int],
                       kills: list[tuple[float, set[int] | None]]
                       ) -> list[tuple[int, int, int, float]]:
    """Return the duplicates the documented crash window does not explain.

    A duplicate is explained when its first copy was accepted around a SIGKILL (the sent mark
    was not yet written), came from the killed bot, and is that chat's only one for that
    kill. The server may accept a request the killed bot had already written a second or two
    after the kill, so "from the killed bot" is told by the connection (client port) it came
    on, not by the time it was stamped. The database going away is the same window for the
    sending process (``None`` for ports: any): a message Telegram accepted while its "sent"
    mark could not be committed is sent again, at most one per chat.
    """
    messages: dict[tuple[int, float], set[float]] = defaultdict(set)
    unexplained = []
    for chat, story, n, at in duplicates:
        port = first_port.get((chat, story), 0)
        kill = next((k for k, ports in kills if k - 15.0 <= at <= k + 30.0
                     and (ports is None or port in ports)), None)
        if kill is None or n > 2:
            unexplained.append((chat, story, n, at))
            continue
        # one digest message may carry several stories: count messages, not stories
        messages[(chat, kill)].add(at)
        if len(messages[(chat, kill)]) > 1:
            unexplained.append((chat, story, n, at))
    return unexplained


def recovery(emulator: Emulator, kind: str, ended: float) -> dict[str, Any]:
    """How long after a fault ended the bot made its first good call and send."""
    wall_end = time.time() - (time.monotonic() - ended)
    first_call: float | None = None
    first_send: float | None = None
    deadline = time.monotonic() + 60
    calls_before = len(emulator.calls)
    while time.monotonic() < deadline and (first_call is None or first_send is None):
        if first_call is None and len(emulator.calls) > calls_before:
            first_call = time.time() - wall_end
        if first_send is None:
            with emulator.lock:
                recent = [m.at for m in emulator.messages[-50:] if m.at >= wall_end]
            if recent:
                first_send = min(recent) - wall_end
        time.sleep(0.2)
    return {"kind": kind, "requests": emulator.faulted_requests, "first_call": first_call,
            "first_send": first_send}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else 0.0


def unanswered_causes(pressed_at: list[float], restarts: list[dict[str, Any]],
                      faults: list[dict[str, Any]]) -> dict[str, int]:
    """Why presses got no answer, told by when they were pressed (all times ``time.time()``).

    A network fault refuses the answer itself; a press in the last seconds before the poller
    was killed, or before a standby took over, waits for the next leader; the database
    restart answers "could not be saved" unless that answer is refused too.
    """
    faulted = [f["window"] for f in faults if "window" in f]
    database = [(f["down_at"], f["down_at"] + DB_DOWN_SECONDS) for f in faults
                if "down_at" in f]
    kills = [r["at"] for r in restarts if r["kind"] == "kill" and r.get("leader")]
    causes = {"network fault": 0, "database restart": 0, "leader SIGKILL": 0, "other": 0}
    for at in pressed_at:
        if any(start - 1 <= at <= end + 1 for start, end in faulted):
            causes["network fault"] += 1
        elif any(start - 1 <= at <= end + 5 for start, end in database):
            causes["database restart"] += 1
        elif any(kill - 10 <= at <= kill + LEASE_SECONDS + RENEW_SECONDS + 5
                 for kill in kills):
            causes["leader SIGKILL"] += 1
        else:
            causes["other"] += 1
    return causes


def report(args: argparse.Namespace, plan: Plan, outcome: Outcome,
           days: list[dict[str, float]], restarts: list[dict[str, Any]],
           faults: list[dict[str, Any]], vote_checks: list[tuple[int, int, int, int]],
           voter: Voter, emulator: Emulator, elapsed: float, disk_final: float,
           tracebacks: int) -> int:
    """Print the figures, write BENCHMARKS.md's Reliability section, return the exit code."""
    kills = sum(1 for r in restarts if r["kind"] == "kill")
    dup_excess = sum(n - 1 for _c, _s, n, _at in outcome.duplicates)
    windows: list[tuple[float, set[int] | None]] = [*killed_bots_ports(emulator, restarts)]
    windows += [(f["down_at"], None) for f in faults if "down_at" in f]
    unexplained = explain_duplicates(outcome.duplicates, outcome.first_port, windows)
    votes_lost = sum(v[1] for v in vote_checks)
    votes_checked = sum(v[0] for v in vote_checks)
    unanswered = [f"{cause} {n}" for cause, n in
                  unanswered_causes(voter.unanswered_at, restarts, faults).items()]
    pending_left = vote_checks[-1][3]
    rss_early = statistics.median(d["rss"] for d in days[2:5]) if len(days) >= 5 else 0.0
    rss_late = statistics.median(d["rss"] for d in days[-4:-1]) if len(days) >= 5 else 0.0
    retained = [d["disk"] for d in days if d["day"] >= args.retention_days + 2]
    disk_growth = (max(retained) / retained[0]) if len(retained) >= 2 else 1.0
    sends = outcome.messages
    r429 = emulator.count_429
    bad_stop = [r for r in restarts if r["kind"] in ("term", "final")
                and (r["exit"] != 0 or r["stop_s"] > 10)]
    slow_faults = [f for f in faults if f["first_call"] is None or f["first_call"] > 60]
    db_restarts = [f for f in faults if f["kind"] == "database restart"]
    checks = {
        "no story lost": not outcome.lost,
        "duplicates only in the window of a SIGKILL or database restart (<= 1 per chat each)":
            not unexplained,
        "no acknowledged vote lost": votes_lost == 0,
        "nothing left pending": pending_left == 0,
        "disk bounded (<= 1.25x after retention filled)": disk_growth <= 1.25,
        "RSS flat (<= 10% from days 3-5 to the last days)":
            rss_early == 0.0 or rss_late <= 1.10 * rss_early,
        "no 429 storm (<= 0.5% of sends)": r429 <= max(5, 0.005 * sends),
        "graceful stops exit 0 within 10 s": not bad_stop,
        "recovery within a minute of every network fault": not slow_faults,
        "no tracebacks in the bot's logs": tracebacks == 0,
    }
    if db_restarts:
        checks["messages again within 30 s of the database's return"] = all(
            f["first_send"] is not None and f["first_send"] <= 30 for f in db_restarts)
    lines = [
        f"Simulated {args.days} days ({SIM_START:%Y-%m-%d} on, both DST changes) in "
        f"{elapsed / 60:.1f} min: {len(plan.feeds)} feeds publishing "
        f"{args.articles_per_day:,} items a day ({sum(len(i) for i in plan.items):,} items, "
        f"{len(plan.stories):,} stories, "
        f"{sum(1 for s in plan.stories if s.topic is not None):,} on a followed topic), "
        f"{len(plan.chats):,} chats (60% private, 30% groups, 10% channels; instant and "
        f"digest, 7 time zones, quiet hours, language filters; "
        f"{sum(1 for c in plan.chats if c.blocked_at)} block the bot mid-month). Bot API "
        "emulator with Telegram's limits on; "
        f"retention {args.retention_days} days (the store keeps what it retains in memory, so RSS "
        "can only level off once that window is full).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| story x chat deliveries checked | {outcome.expected:,} |",
        f"| delivered exactly once | {outcome.delivered - len(outcome.duplicates):,} |",
        f"| lost | {len(outcome.lost)} |",
        f"| duplicate copies, all (a window: accepted just before a SIGKILL or the database "
        f"went away, not yet marked) | {dup_excess} |",
        f"| duplicates outside those windows | {len(unexplained)} |",
        f"| deliveries nobody asked for | {outcome.unexpected} |",
        f"| messages sent | {sends:,} |",
        f"| 429 answers | {r429} |",
        f"| processes | {args.processes} "
        f"({'one PostgreSQL database' if args.processes > 1 else 'one data folder'}) |",
        f"| restarts survived | {len(restarts) - args.processes} ({kills} SIGKILL, "
        f"{sum(1 for r in restarts if r['kind'] == 'kill' and r.get('leader'))} of the "
        "sending process) |",
        f"| graceful stop time, max | "
        f"{max((r['stop_s'] for r in restarts if r['kind'] != 'kill'), default=0):.1f} s |",
        f"| votes pressed / acknowledged / checked in store / lost | {voter.presses:,} / "
        f"{voter.acks:,} / {votes_checked:,} / {votes_lost} |",
        f"| press answered after, median / 99th percentile / slowest | "
        f"{_quantile(voter.answer_seconds, 0.5):.2f} / "
        f"{_quantile(voter.answer_seconds, 0.99):.2f} / "
        f"{max(voter.answer_seconds, default=0.0):.2f} s |",
        f"| presses never answered within 2 min (pressed in: {', '.join(unanswered)}) | "
        f"{voter.unanswered} |",
        f"| pending deliveries at the end | {pending_left} |",
        f"| tracebacks in bot logs | {tracebacks} |",
        "",
        "Network faults, 15 s each, halfway between two restarts (drop, 5xx and garbage "
        "refuse every request before it takes effect; slow answers each after 3 s):",
        "",
        "| fault | requests during the fault | first good call after it | "
        "first message after it |",
        "|---|---|---|---|",
    ]
    for f in faults:
        lines.append(f"| {f['kind']} | {f['requests']} | {_secs(f['first_call'])} | "
                     f"{_secs(f['first_send'])} |")
    lines += ["", "Per simulated day (bot process RSS, data directory size):", "",
              "| day | messages so far | 429s so far | RSS MB (main / with workers) | "
              "disk MB |", "|---|---|---|---|---|"]
    for d in days:
        lines.append(f"| {d['day']:.0f} | {d['messages']:,.0f} | {d['r429']:.0f} | "
                     f"{d['rss']:.0f} / {d['rss_all']:.0f} | {d['disk']:.1f} |")
    lines += ["", f"Final data directory: {disk_final:.1f} MB; growth after the retention "
              f"window filled: {disk_growth:.2f}x; RSS median days 3-5 {rss_early:.0f} MB, "
              f"last days {rss_late:.0f} MB.", "", "| check | result |", "|---|---|"]
    lines += [f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in checks.items()]
    body = "\n".join(lines)
    print(body)
    if outcome.lost:
        chats = {c.chat.key.chat_id: c.chat for c in plan.chats}
        per_story = Counter(story for _chat, story in outcome.lost)
        print(f"lost: {len(outcome.lost)} pairs in {len(per_story)} stories; first 30:")
        for chat_id, story_id in outcome.lost[:30]:
            story, c = plan.stories[story_id], chats[chat_id]
            print(f"  story {story_id} ({story.language}, {story.published:%d %H:%M}, "
                  f"{[u.rsplit('/', 2)[-2:] for _f, u in story.copies]}, lost for "
                  f"{per_story[story_id]} chats) -> chat {chat_id} {c.mode.value} "
                  f"{c.digest_time} {c.timezone} quiet={c.quiet} langs={c.languages}")
    if unexplained:
        print("unexplained duplicates, first 20 (copies at, in seconds from the start):")
        t0 = min(r["at"] for r in restarts) if restarts else 0.0
        for chat_id, story_id, _n, _at in unexplained[:20]:
            copies = [f"{t - t0:.2f}" for t in outcome.copies_at[(chat_id, story_id)]]
            print(f"  chat {chat_id} story {story_id}: {copies}, first from port "
                  f"{outcome.first_port.get((chat_id, story_id))}")
        print("  restarts (kind, signal):",
              [(r["kind"], round(r["at"] - t0, 2)) for r in restarts])
    if args.write and args.processes > 1:
        write_section("Scaling out: soak", body, "python bench/soak.py " + " ".join(sys.argv[1:]))
    elif args.write:
        write_section("Reliability", body + _other_reliability(),
                      "make soak" if args.days == 30 else "python bench/soak.py "
                      + " ".join(sys.argv[1:]))
    return 0 if all(checks.values()) else 1


def _secs(value: float | None) -> str:
    return "none within 60 s" if value is None else f"{value:.1f} s"


OTHER_FAULTS = [
    ("one user sending hundreds of commands and presses", "tests/e2e/test_conversation.py"),
    ("forged, replayed and stale presses; votes from non-members",
     "tests/e2e/test_conversation.py"),
    ("huge and malformed updates", "tests/e2e/test_conversation.py"),
    ("disk full mid-write (RLIMIT_FSIZE); writes resume", "tests/unit/test_storage.py"),
    ("truncated or corrupted data files at start-up; `newsbot doctor`",
     "tests/unit/test_storage.py, tests/e2e/test_cli.py"),
    ("50 SIGKILLs during writes", "tests/unit/test_storage.py"),
    ("feeds that hang, loop redirects, send endless or huge bodies, billion laughs",
     "tests/unit/test_feeds.py"),
    ("formatting fuzz (hypothesis): every message and digest passes the emulator",
     "tests/unit/test_render.py"),
]


def _other_reliability() -> str:
    rows = "\n".join(f"| {fault} | {test} |" for fault, test in OTHER_FAULTS)
    return ("\n\nThe other faults are tests in `make test` (they run on every commit):\n\n"
            "| fault | test |\n|---|---|\n" + rows + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--day-seconds", type=float, default=60.0,
                        help="real seconds per simulated day")
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--articles-per-day", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--restarts", type=int, default=20,
                        help=f"bot restarts, at least {len(FAULTS) - 1}: each of the "
                             f"{len(FAULTS)} Bot API faults sits between two of them")
    parser.add_argument("--match-rate", type=float, default=0.004,
                        help="share of items that name a followed topic")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--retention-days", type=int, default=2,
                        help="storage.retention_days (RSS and disk must level off after it)")
    parser.add_argument("--processes", type=int, default=1,
                        help="newsbot run processes; more than one runs them on PostgreSQL")
    parser.add_argument("--db-restart", action="store_true",
                        help="with --processes > 1: restart the database once, halfway")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs")
    parser.add_argument("--kill-leader", action="store_true",
                        help="every restart a SIGKILL of the process that sends (the hardest "
                             "case for exactly-once and failover)")
    parser.add_argument("--no-write", dest="write", action="store_false",
                        help="don't update BENCHMARKS.md")
    args = parser.parse_args()
    if args.restarts < len(FAULTS) - 1:
        parser.error(f"--restarts must be at least {len(FAULTS) - 1}")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
