"""Hostile traffic against the real bot process: bombs, floods and forged updates.

One ``newsbot run`` in webhook mode (metrics on) against the Bot API emulator and a local news
site, attacked the ways INTERFACE.md §8 promises to withstand:

* compression bombs and an entity-expansion feed, as feeds and as article pages;
* one user sending /help nine times a second for 60 s, while other users' commands and a
  third user's votes are timed;
* forged updates: webhook POSTs without the secret, 99 MB bodies, forged callback data,
  channel buttons pressed by subscribers;
* 40 members pressing Yes at once while edits land in random order.

Figures go to BENCHMARKS.md "Hostile traffic"; exit 1 when a promise is broken.
Run: ``python bench/hostile.py`` (about two minutes).
"""

from __future__ import annotations

import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import status_kb  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.conftest import BotProcess, free_port, write_config  # noqa: E402
from tests.emulator.server import Emulator  # noqa: E402
from tests.newsserver import NewsServer, article_page, rss  # noqa: E402

PARAGRAPHS = [f"Officials in Minsk said on Monday that talks on border crossing number {i} "
              f"with Lithuania would continue next week, according to the statement."
              for i in range(6)]
MAX_BYTES = 5_000_000
SECRET = "bench-secret_0123456789abcdefghijklmnop"


def zeros(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(size >> 20)) + packer.flush()


def post_raw(port: int, headers: dict[str, str], body: bytes = b"") -> tuple[int, float]:
    lines = ["POST /hook HTTP/1.1", f"Host: 127.0.0.1:{port}",
             *(f"{k}: {v}" for k, v in headers.items())]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = s.recv(4096).decode("latin-1")
    return int(answer.split(" ", 2)[1]), time.monotonic() - started


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="newsbot-hostile-"))
    emulator = Emulator().start()
    news = NewsServer().start()
    gzip_zeros = zeros(1 << 30, 31)  # 1 GiB of zeros
    bombs = {
        "gzip, gzip (1 GiB inside)": (zlib.compress(gzip_zeros, 9, wbits=31), "gzip, gzip"),
        "gzip (1 GiB)": (gzip_zeros, "gzip"),
        "deflate (1 GiB)": (zeros(1 << 30, 15), "deflate"),
        "br (not asked for)": (b"\x1b\xff\xff\x0f" * 256, "br"),
    }
    feeds: list[tuple[str, str]] = []
    for i, name in enumerate(bombs):
        # Harmless until the bot has warmed up (first polls, extraction workers): then the
        # memory figure measures the bombs, not start-up.
        news.set(f"/bomb{i}.xml", rss("quiet", []), "application/rss+xml")
        feeds.append((f"{news.url}/bomb{i}.xml", f"Bomb {name}"))
    entity = '<!ENTITY a "' + "x" * 900 + '">'
    news.set("/entities.xml", '<?xml version="1.0"?>\n<!-- ' + "pad " * 40_000 + "-->\n"
             f"<!DOCTYPE rss [{entity}]><rss><channel><item><title>t</title><link>"
             "http://x/</link><description>" + "&a;" * 250_000 + "</description></item>"
             "</channel></rss>", "application/rss+xml")
    feeds.append((f"{news.url}/entities.xml", "Entities"))
    news.set("/pages.xml", rss("pages", []), "application/rss+xml")
    feeds.append((f"{news.url}/pages.xml", "Page bombs"))
    news.set("/feed.xml", rss("t", []), "application/rss+xml")
    feeds.append((f"{news.url}/feed.xml", "News"))
    port, metrics_port = free_port(), free_port()
    config = write_config(tmp, feeds, interval=2,
                          extra=f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n')
    config.write_text(config.read_text().replace(
        "[telegram]\n", f'[telegram]\nwebhook_url = "https://bot.example.org/hook"\n'
                        f'webhook_listen = "127.0.0.1:{port}"\n', 1).replace(
        "timeout_seconds = 5", f"timeout_seconds = 30\nmax_bytes = {MAX_BYTES}"))
    emulator.webhook_proxy = f"http://127.0.0.1:{port}"
    bot = BotProcess(config, emulator, env={"TELEGRAM_WEBHOOK_SECRET": SECRET}).start(
        wait=False)
    emulator.wait_for(lambda: emulator.webhook is not None, timeout=60)
    assert bot.proc is not None
    pid = bot.proc.pid
    # Warm-up: an ordinary article through the whole pipeline (page fetch, extraction
    # workers, summaries), so that start-up costs are paid before the bombs.
    # A page with no text takes the bomb pages' path (language told from the title in this
    # process: langdetect loads its profiles, ~45 MB, on first use).
    news.set("/a/0", article_page("Minsk warm-up story", PARAGRAPHS))
    news.set("/empty", "<html><body></body></html>")
    news.set("/feed.xml", rss("t", [{"title": "Minsk warm-up story", "link": f"{news.url}/a/0",
                                     "description": "Minsk."},
                                    {"title": "Minsk page bomb 9",
                                     "link": f"{news.url}/empty", "description": "Minsk."}]),
             "application/rss+xml")
    time.sleep(15)
    hwm_start = status_kb(pid, "VmHWM") or 0
    rss_start = status_kb(pid, "VmRSS") or 0
    failures: list[str] = []
    rows: list[tuple[str, str, str]] = []

    # --- bombs, one at a time (so the figure is one response's cost): each as a feed for
    # two polls, then as the article page of a teaser item
    for i, (body, encoding) in enumerate(bombs.values()):
        news.set(f"/bomb{i}.xml", body, "application/rss+xml", raw=True,
                 headers={"Content-Encoding": encoding})
        time.sleep(4.5)
        news.set(f"/bomb{i}.xml", rss("quiet", []), "application/rss+xml")
    hwm_feeds = status_kb(pid, "VmHWM") or 0
    for i, (body, encoding) in enumerate(bombs.values()):
        news.set(f"/page-bomb{i}", body, "text/html", raw=True,
                 headers={"Content-Encoding": encoding})
        news.set("/pages.xml", rss("pages", [{
            "title": f"Minsk page bomb {i}", "link": f"{news.url}/page-bomb{i}",
            "guid": f"pb{i}", "description": "Minsk."}]), "application/rss+xml")
        time.sleep(4.5)
    hwm_bombs = status_kb(pid, "VmHWM") or 0
    log = bot.log().splitlines()

    def outcome(marker: str) -> str:
        for line in log:
            if marker in line and "error=" in line:
                error = line.split("error=", 1)[1].split(" failures=")[0]
                return error[1:-1] if error[:1] in "'\"" else error
        return "not fetched yet"

    for i, (name, (body, _encoding)) in enumerate(bombs.items()):
        rows.append((f"feed: {name}", f"{len(body):,} B on the wire",
                     outcome(f"/bomb{i}.xml'")))
        rows.append((f"article page: {name}", f"{len(body):,} B on the wire",
                     outcome(f"/page-bomb{i}'") if outcome(f"/page-bomb{i}'")
                     != "not fetched yet" else "cut at max_bytes, extracted nothing"))
    rows.append(("feed declaring entities after 160 KB of comment", "1.2 MB",
                 outcome("/entities.xml'")))
    grown = (hwm_bombs - max(hwm_start, rss_start)) / 1024
    grown_feeds = (hwm_feeds - max(hwm_start, rss_start)) / 1024
    rows.append(("peak RSS growth: feed bombs / feed and page bombs", "",
                 f"{grown_feeds:.0f} MB / {grown:.0f} MB (max_bytes is "
                 f"{MAX_BYTES / 1e6:.0f} MB)"))
    if grown > MAX_BYTES / 1e6 + 20:
        failures.append(f"peak RSS grew {grown:.0f} MB under bombs")

    # --- forged updates
    forged = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "/start",
              "chat": {"id": 5, "type": "private", "first_name": "x"},
              "from": {"id": 5, "is_bot": False, "first_name": "x"}}}
    wrong = [emulator.post_with_secret(forged, "wrong") for _ in range(500)]
    big = [post_raw(port, {"Content-Length": "99000000",
                           "X-Telegram-Bot-Api-Secret-Token": SECRET}, b" " * 65536)
           for _ in range(6)]
    big += [post_raw(port, {"Content-Length": "99000000"}, b" " * 65536) for _ in range(6)]
    rows.append(("webhook POSTs with a wrong secret", "500",
                 f"{wrong.count(403)} answered 403"))
    rows.append(("99 MB webhook bodies (6 with, 6 without the secret)", "12",
                 f"answered {sorted({s for s, _ in big})} in <= {max(t for _, t in big):.2f} s"))
    if set(wrong) != {403} or {s for s, _ in big} - {403, 413}:
        failures.append("forged webhook requests were not all refused")

    # --- a user following a topic gets an article to vote on
    voter, flooder = 501, 502
    emulator.inject_message(voter, voter, "/follow belarus")
    emulator.wait_sent(voter, contains="Belarus")
    news.set("/a/1", article_page("Minsk bench story", PARAGRAPHS))
    news.set("/feed.xml", rss("t", [{"title": "Minsk bench story", "link": f"{news.url}/a/1",
                                     "description": PARAGRAPHS[0]}]), "application/rss+xml")
    article = emulator.wait_sent(voter, contains="Minsk bench story", timeout=60)[-1]
    data = [d for _l, d in article.buttons()[0]]
    forged_presses = [emulator.press(voter, article, data="v1|ffffffffffff|y")
                      for _ in range(200)]
    emulator.wait_for(lambda: all(emulator.answer_for(q) for q in forged_presses), timeout=30)
    rows.append(("forged callback data", "200", "answered with a notice, nothing changed"))

    # --- channel buttons pressed by subscribers
    channel = -1_000_000_000_777
    emulator.chat(channel, "channel", "Bench channel")
    emulator.inject_channel_post(channel, "/topics")
    keyboard = emulator.wait_sent(channel)[-1]
    presses = [emulator.press(7000 + i, keyboard, button=(0, 0)) for i in range(50)]
    emulator.wait_for(lambda: all(emulator.answer_for(q) for q in presses), timeout=30)
    changed = "✅" in keyboard.buttons()[0][0][0]
    rows.append(("channel buttons pressed by subscribers", "50",
                 "nothing changed" if not changed else "CHANGED"))
    if changed:
        failures.append("a subscriber changed a channel")

    # --- flood for 60 s, others timed
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            emulator.inject_message(flooder, flooder, "/help")
            time.sleep(1 / 9)

    flooding = threading.Thread(target=flood)
    flooding.start()
    command_waits: list[float] = []
    vote_waits: list[float] = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < 60:
        other = 10_000 + n
        t0 = time.monotonic()
        emulator.inject_message(other, other, "/start")
        emulator.wait_sent(other, timeout=30)
        command_waits.append(time.monotonic() - t0)
        t0 = time.monotonic()
        query = emulator.press(voter, article, data=data[n % 2])
        answer = emulator.wait_for(lambda q=query: emulator.answer_for(q), timeout=30)
        vote_waits.append(answer["answered_at"] - t0)
        n += 1
        time.sleep(0.8)
    stop.set()
    flooding.join()
    flood_sent = sum(1 for m, _ in emulator.calls if m == "sendMessage")
    flooder_replies = len(emulator.sent(flooder))
    rows.append(("/help from one user, 9 a second for 60 s", f"{9 * 60}",
                 f"{flooder_replies} replies to the flooder (its chat takes 1/s)"))
    rows.append(("other users' commands during the flood", str(len(command_waits)),
                 f"median {statistics.median(command_waits):.2f} s, slowest "
                 f"{max(command_waits):.2f} s"))
    rows.append(("a third user's votes during the flood", str(len(vote_waits)),
                 f"median {statistics.median(vote_waits):.2f} s, slowest "
                 f"{max(vote_waits):.2f} s"))
    if max(command_waits) >= 2 or max(vote_waits) >= 2:
        failures.append("a reply or vote took 2 s or more during the flood")

    # --- 40 presses at once, edits landing in random order
    emulator.edit_jitter = 0.3
    yes = data[0]
    threads = [threading.Thread(target=emulator.press, args=(20_000 + i, article),
                                kwargs={"data": yes}) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(6)
    labels = str(article.buttons())
    # The voter's own last press in the flood was Yes when n - 1 is even.
    expected = 40 + (1 if (n - 1) % 2 == 0 else 0)
    settled = [label for label, _d in article.buttons()[0]]
    rows.append(("40 members pressing Yes at once, edits reordered", "40",
                 f"buttons settled on {' / '.join(settled)}; stored Yes {expected}"))
    if f"Yes ({expected})" not in labels:
        failures.append(f"vote buttons settled on {labels}, stored Yes {expected}")
    emulator.edit_jitter = 0.0

    hwm = status_kb(pid, "VmHWM") or 0
    code = bot.stop(signal.SIGTERM)
    log = bot.log()
    rows.append(("bot RSS at start / peak over the whole run", "",
                 f"{rss_start / 1024:.0f} MB / {hwm / 1024:.0f} MB"))
    rows.append(("tracebacks in the bot log", "", str(log.count("Traceback"))))
    rows.append(("graceful stop", "", f"exit {code}"))
    if code != 0 or "Traceback" in log:
        failures.append("the bot did not stop cleanly or logged a traceback")
    emulator.stop()
    news.stop()

    table = ["| attack | tried | outcome |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    body = ("One `newsbot run` (webhook mode, metrics on, `max_bytes` 5 MB) against the Bot API "
            "emulator with Telegram's limits on and a local news site; "
            f"{flood_sent:,} messages sent in all.\n\n" + "\n".join(table) + "\n\n"
            + ("Every promise of INTERFACE.md §8 held." if not failures
               else "Broken: " + "; ".join(failures)))
    write_section("Hostile traffic", body, "python bench/hostile.py")
    print(body)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
