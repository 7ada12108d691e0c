"""Keyword-topic matching at scale: 10,000 chats x 5 own topics (50,000 phrases).

Measures the time to match one article against all of them (p50/p99 over 500 real-length
articles) and the time to build the index. Target: p99 <= 5 ms.

Run: ``python bench/matching.py``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from bot.models import Topic  # noqa: E402
from bot.topics import TopicMatcher  # noqa: E402

WORDS = [
    "minsk", "vilnius", "warsaw", "riga", "tallinn", "kyiv", "border", "energy", "grid",
    "nuclear", "plant", "ostrovets", "election", "protest", "sanctions", "brigade", "nato",
    "rail", "tariff", "grain", "port", "klaipeda", "gdansk", "astravets", "lukashenko",
    "nauseda", "tusk", "zelensky", "embassy", "visa", "customs", "drone", "airspace", "refugee",
    "pipeline", "lng", "terminal", "bank", "inflation", "budget", "strike", "court", "verdict",
    "prisoner", "journalist", "media", "church", "university", "hospital", "flood", "storm",
    "harvest", "football", "hockey", "basketball", "olympics", "festival", "museum", "opera",
    "theatre"
]


def main() -> None:
    rng = random.Random(3)
    syllables = ["ka", "lo", "vi", "ne", "ra", "tus", "min", "sk", "gra", "do", "pol", "as",
                 "tra", "vets", "liu", "ba", "nu", "ki", "ze", "ry", "sha", "ov", "ich", "ma"]
    # Readers' phrases name people, places and things: a large vocabulary, like real news.
    names = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
             for _ in range(40_000)}
    vocabulary = WORDS + sorted(names)
    common = [
        "the", "a", "of", "and", "in", "to", "is", "was", "for", "on", "that", "with", "as",
        "by", "at", "from", "it", "an", "be", "has", "have", "said", "will", "are", "were",
        "this", "which", "or", "but", "not", "after", "more", "over", "new", "two", "their"
    ]
    started = time.perf_counter()
    matcher = TopicMatcher()
    for chat in range(10_000):
        for t in range(5):
            n = rng.choice((1, 1, 2, 3))
            phrase = " ".join(rng.choice(vocabulary) for _ in range(n))
            if rng.random() < 0.3:
                phrase += "*"
            exclude = (rng.choice(vocabulary),) if rng.random() < 0.3 else ()
            matcher.add(Topic(f"kw{t}", phrase, (phrase,), exclude), owner=f"{chat}:0|kw{t}")
    build = time.perf_counter() - started
    timings = []
    hits = 0
    for _ in range(500):
        title = " ".join(rng.choice(vocabulary if rng.random() < 0.5 else common)
                         for _ in range(10))
        text = " ".join(rng.choice(vocabulary) if rng.random() < 0.3 else rng.choice(common)
                        for _ in range(600))
        t0 = time.perf_counter()
        hits += len(matcher.match(title, text))
        timings.append(time.perf_counter() - t0)
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99)] * 1000
    text = (f"50,000 phrases (10,000 chats x 5 keyword topics of 1-3 words drawn from a "
            f"{len(vocabulary):,}-word vocabulary, 30% with `*` endings, 30% with an "
            f"exclusion); 500 articles of 10 + 600 words, 30% of them vocabulary words.\n\n"
            f"| measure | value | target |\n|---|---|---|\n"
            f"| build the index | {build:.2f} s | |\n"
            f"| match one article, p50 | {p50:.2f} ms | |\n"
            f"| match one article, p99 | {p99:.2f} ms | <= 5 ms |\n"
            f"| matches per article (mean) | {hits / 500:.0f} | |")
    print(text)
    write_section("Keyword topics", text, "python bench/matching.py")


if __name__ == "__main__":
    main()
