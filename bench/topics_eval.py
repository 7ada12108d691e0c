"""Topic matching precision and recall on the hand-labelled set in ../shared/corpus/topics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.settings import load_settings  # noqa: E402
from bot.topics import TopicMatcher  # noqa: E402

# Feed titles are third-party data: the set lives in the shared corpus, not in this repository.
DATA = ROOT.parent / "shared" / "corpus" / "topics" / "topics_labelled.jsonl"


# How an editor would configure these outlets: TUT.BY's main feed is a national Belarusian
# news feed (every one of its 60 labelled items is Belarusian news), so it carries
# `topics = ["belarus"]`; Onliner mixes world and tech news, so it relies on aliases alone.
FEED_TOPICS = {"tut.by_main_2019-11-25.xml": ("belarus",)}


def _prf(rows: list[dict[str, object]], topic: str, matched: dict[int, list[str]]
         ) -> tuple[int, int, float, float]:
    tp = fp = fn = 0
    for r in rows:
        got = topic in matched[int(r["n"])]  # type: ignore[call-overload]
        want = topic in r["labels"]  # type: ignore[operator]
        tp += got and want
        fp += got and not want
        fn += want and not got
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return tp + fn, tp + fp, precision, recall


def topics_table() -> str:
    settings = load_settings(ROOT / "config" / "newsbot.toml", env={})
    matcher = TopicMatcher(settings.topics)
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    aliases_only = {r["n"]: matcher.match(r["title"], r["text"]) for r in rows}
    with_feeds = {r["n"]: matcher.match(r["title"], r["text"],
                                        given=FEED_TOPICS.get(r["source"], ()))
                  for r in rows}
    lines = [f"{len(rows)} hand-labelled real feed items (title + feed description; see "
             "bench/data/SOURCES.md), shipped config/newsbot.toml topics. \"feed topics\": "
             "the TUT.BY main feed (a national Belarusian outlet) configured with "
             "`topics = [\"belarus\"]`, as an editor would; everything else by aliases.", "",
             "| topic | labelled | matched | precision | recall |", "|---|---|---|---|---|"]
    for topic in ("belarus", "ukraine", "poland", "lithuania"):
        n, m, p, r = _prf(rows, topic, aliases_only)
        lines.append(f"| {topic} (aliases only) | {n} | {m} | {p:.3f} | {r:.3f} |")
        if topic == "belarus":
            n, m, p, r = _prf(rows, topic, with_feeds)
            lines.append(f"| **belarus (with feed topics)** | {n} | {m} | {p:.3f} | {r:.3f} |")
    lines += ["", "Belarus errors with aliases only (FN = missed, FP = wrongly matched):", ""]
    for r in rows:
        got, want = "belarus" in aliases_only[r["n"]], "belarus" in r["labels"]
        if got != want:
            fixed = " (feed topic: fixed)" if ("belarus" in with_feeds[r["n"]]) == want else ""
            lines.append(f"* {'FP' if got else 'FN'} #{r['n']}: {r['title'][:70]}{fixed}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(topics_table())
