"""Language-ID accuracy on the lingua sets: ours, langdetect alone and lingua (anchor)."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from bot.language import TARGETS, detect_language

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "langid"


def evaluate(fn, name: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in (CORPUS / f"{name}.jsonl").read_text().splitlines()]
    ok: collections.Counter[str] = collections.Counter()
    tot: collections.Counter[str] = collections.Counter()
    for r in rows:
        tot[r["lang"]] += 1
        ok[r["lang"]] += fn(r["text"]) == r["lang"]
    result = {k: ok[k] / tot[k] for k in sorted(tot)}
    result["overall"] = sum(ok.values()) / sum(tot.values())
    return result


def confusable_rate(fn) -> float:  # type: ignore[no-untyped-def]
    path = CORPUS / "lingua_sentences_confusable_langs.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return sum(fn(r["text"]) in TARGETS for r in rows) / len(rows)


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"corpus absent: {CORPUS}")
    for name in ("lingua_sentences", "lingua_word_pairs", "lingua_single_words"):
        print(name, {k: round(v, 3) for k, v in evaluate(detect_language, name).items()})
    print("confusable mislabelled as a target:", round(confusable_rate(detect_language), 4))


if __name__ == "__main__":
    main()
