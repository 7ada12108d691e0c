"""Topic matching precision and recall on the hand-labelled set in bench/data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.settings import load_settings  # noqa: E402
from bot.topics import TopicMatcher  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "topics_labelled.jsonl"


def topics_table() -> str:
    settings = load_settings(ROOT / "config" / "newsbot.toml", env={})
    matcher = TopicMatcher(settings.topics)
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    lines = [f"{len(rows)} hand-labelled real feed items (title + feed description; see "
             "bench/data/SOURCES.md), shipped config/newsbot.toml topics.", "",
             "| topic | labelled | matched | precision | recall |", "|---|---|---|---|---|"]
    misses: list[str] = []
    for topic in ("belarus", "ukraine", "poland", "lithuania"):
        tp = fp = fn = 0
        for r in rows:
            got = topic in matcher.match(r["title"], r["text"])
            want = topic in r["labels"]
            tp += got and want
            fp += got and not want
            fn += want and not got
            if topic == "belarus" and got != want:
                misses.append(f"{'FP' if got else 'FN'} #{r['n']}: {r['title'][:70]}")
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        lines.append(f"| {topic} | {tp + fn} | {tp + fp} | {precision:.3f} | {recall:.3f} |")
    lines += ["", "Belarus errors (FN = missed, FP = wrongly matched):", ""]
    lines += [f"* {m}" for m in misses]
    return "\n".join(lines)


if __name__ == "__main__":
    print(topics_table())
