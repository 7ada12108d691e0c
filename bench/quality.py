"""Quality evaluations over ../shared/corpus: summaries (ROUGE), extraction (P/R/F1),
language ID, topic matching. Writes the tables into BENCHMARKS.md.

Run: ``python bench/quality.py`` (a few minutes; needs ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402

from bench.langid_eval import confusable_rate, evaluate  # noqa: E402
from bench.report import write_section  # noqa: E402
from bot.article.extract import extract_page  # noqa: E402
from bot.language import TARGETS, detect_language  # noqa: E402
from bot.summarize import split_sentences, summarize  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
_TOKEN = re.compile(r"\w+")


# ------------------------------------------------------------------ summaries
def summaries() -> str:
    rows = [json.loads(line) for line in
            (CORPUS / "summaries" / "bbc_news_summary.sample250.jsonl").read_text().splitlines()]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)

    def run(fn: Callable[[dict[str, str]], str]) -> tuple[float, float, float, float]:
        started = time.perf_counter()
        total = [0.0, 0.0, 0.0]
        for r in rows:
            s = scorer.score(r["reference"], fn(r))
            total[0] += s["rouge1"].fmeasure
            total[1] += s["rouge2"].fmeasure
            total[2] += s["rougeL"].fmeasure
        n = len(rows)
        return total[0] / n, total[1] / n, total[2] / n, time.perf_counter() - started

    systems: list[tuple[str, Callable[[dict[str, str]], str]]] = [
        ("lead-3", lambda r: " ".join(split_sentences(r["text"], "en")[:3]))]
    for name in ("lexrank", "lsa", "textrank", "luhn", "reduction", "sumbasic", "kl"):
        systems.append((f"sumy {name} (raw)",
                        lambda r, a=name: " ".join(summarize(r["text"], r["title"], "en", a))))
    systems.append(("**newsbot default (hybrid)**",
                     lambda r: " ".join(summarize(r["text"], r["title"], "en", "hybrid"))))
    lines = ["BBC News Summary, 250 articles, 3 sentences, ROUGE F1 (`rouge-score`, stemmed).", "",
             "| system | ROUGE-1 | ROUGE-2 | ROUGE-L | seconds |", "|---|---|---|---|---|"]
    for name, fn in systems:
        r1, r2, rl, secs = run(fn)
        lines.append(f"| {name} | {r1:.3f} | {r2:.3f} | {rl:.3f} | {secs:.1f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ summaries vs teasers
class _UnicodeTokenizer:
    """ROUGE tokens: Unicode ``\\w+``, casefolded, no stemming (the default drops Cyrillic)."""

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text.casefold())


def teaser_summaries() -> str:
    rows = [json.loads(line) for line in
            (CORPUS / "news-pages" / "truth.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("reference")]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], tokenizer=_UnicodeTokenizer())
    systems: list[tuple[str, Callable[[dict[str, str]], list[str] | tuple[str, ...]]]] = [
        ("lead-3", lambda r: split_sentences(r["summary_text"], r["lang"])[:3]),
        ("sumy reduction (raw)",
         lambda r: summarize(r["summary_text"], r["title"], r["lang"], "reduction")),
        ("sumy lexrank (raw)",
         lambda r: summarize(r["summary_text"], r["title"], r["lang"], "lexrank")),
        ("**newsbot default (hybrid)**",
         lambda r: summarize(r["summary_text"], r["title"], r["lang"], "hybrid")),
    ]
    langs = sorted({r["lang"] for r in rows})
    lines = ["Publishers' teasers (standfirsts) as references for the article body "
             "(`news-pages/`, fundus fixtures): ROUGE F1 with a Unicode `\\w+` tokenizer, "
             "casefolded, no stemming. Pages per language: "
             + ", ".join(f"{lang} {sum(r['lang'] == lang for r in rows)}" for lang in langs)
             + ".", "",
             "| system | " + " | ".join(f"R-2 {lang}" for lang in langs)
             + " | R-1 all | R-2 all |", "|---|" + "---|" * (len(langs) + 2)]
    for name, fn in systems:
        per: dict[str, list[float]] = {lang: [] for lang in langs}
        r1: list[float] = []
        for r in rows:
            score = scorer.score(r["reference"], " ".join(fn(r)))
            per[r["lang"]].append(score["rouge2"].fmeasure)
            r1.append(score["rouge1"].fmeasure)
        every = [v for vs in per.values() for v in vs]
        cells = " | ".join(f"{sum(per[lang]) / len(per[lang]):.3f}" for lang in langs)
        lines.append(f"| {name} | {cells} | {sum(r1) / len(r1):.3f} | "
                     f"{sum(every) / len(every):.3f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ clustering
def _simhash(title: str, text: str) -> int:
    """The first version's fingerprint (64-bit SimHash of word pairs), as the baseline."""
    import hashlib  # noqa: PLC0415

    words = _TOKEN.findall(f"{title} {text}".casefold())[:100]
    weights = [0] * 64
    for i in range(max(len(words) - 1, 1)):
        h = int.from_bytes(hashlib.blake2b(" ".join(words[i:i + 2]).encode(),
                                           digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def _bag_cosine(a: tuple[str, str, str], b: tuple[str, str, str]) -> float:
    import math  # noqa: PLC0415
    from collections import Counter  # noqa: PLC0415

    x = Counter(_TOKEN.findall(f"{a[0]} {a[1]}".casefold()))
    y = Counter(_TOKEN.findall(f"{b[0]} {b[1]}".casefold()))
    dot = sum(v * y[k] for k, v in x.items())
    norm = math.sqrt(sum(v * v for v in x.values()) * sum(v * v for v in y.values()))
    return dot / norm if norm else 0.0


def clustering() -> str:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from bot.article.cluster import (  # noqa: PLC0415
        StoryIndex,
        lead_of,
        same_story,
        story_vector,
    )

    rows = [json.loads(line) for line in
            (CORPUS / "clustering" / "tgcontest_pairs.jsonl").read_text().splitlines()]

    def pair(r: dict[str, str]) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
        return ((r["first_title"], r["first_text"], r["first_url"]),
                (r["second_title"], r["second_text"], r["second_url"]))

    systems: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
        ("SimHash <= 10 bits (first version)",
         lambda r: bin(_simhash(*pair(r)[0][:2]) ^ _simhash(*pair(r)[1][:2])).count("1")
         <= 10),
        ("word-count cosine >= 0.5 (untuned)", lambda r: _bag_cosine(*pair(r)) >= 0.5),
        ("**newsbot same_story**", lambda r: same_story(*pair(r))),
    ]
    lines = [f"Telegram Data Clustering Contest pairs (`clustering/`, {len(rows)}: "
             f"{sum(r['lang'] == 'en' for r in rows)} en, {sum(r['lang'] == 'ru' for r in rows)}"
             " ru), pairwise same-story decision.", "",
             "| system | P en | R en | P ru | R ru | P all | R all | F1 all |",
             "|---|---|---|---|---|---|---|---|"]

    def prf(selected: list[dict[str, str]], fn: Callable[[dict[str, str]], bool]
            ) -> tuple[float, float, float]:
        tp = fp = fn_ = 0
        for r in selected:
            got, want = fn(r), bool(r["same_story"])
            tp += got and want
            fp += got and not want
            fn_ += want and not got
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn_) if tp + fn_ else 1.0
        return p, rc, (2 * p * rc / (p + rc) if p + rc else 0.0)

    for name, fn in systems:
        cells = []
        for lang in ("en", "ru"):
            p, rc, _f = prf([r for r in rows if r["lang"] == lang], fn)
            cells += [f"{p:.2f}", f"{rc:.2f}"]
        p, rc, f = prf(rows, fn)
        lines.append(f"| {name} | {' | '.join(cells)} | {p:.2f} | {rc:.2f} | {f:.2f} |")
    # Cost: one new article against 10,000 recent stories (the pairs' texts, re-titled so
    # that every story differs), as ingest looks it up.
    texts = [(r[f"{side}_title"], r[f"{side}_text"]) for r in rows for side in ("first", "second")]
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    index = StoryIndex()
    for n in range(10_000):
        title, text = texts[n % len(texts)]
        title = f"{title} {n}"
        index.add(str(n), str(n), story_vector(title, lead_of(title, text)),
                  f"site{n % 50}.example", t0 + timedelta(seconds=n))
    started = time.perf_counter()
    probes = 500
    for n in range(probes):
        title, text = texts[(n * 7) % len(texts)]
        index.find(story_vector(title, lead_of(title, text)), "new.example",
                   t0 + timedelta(hours=3))
    per_article = (time.perf_counter() - started) / probes * 1000
    lines += ["", f"Cost: {per_article:.2f} ms per new article (vector and look-up) against "
              f"{len(index):,} recent stories (target 5 ms); memory bounded by the 48 h window "
              "and 20,000 stories."]
    return "\n".join(lines)


# ------------------------------------------------------------------ extraction
def shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    tokens = _TOKEN.findall(text.lower())
    return {tuple(tokens[i:i + n]) for i in range(max(len(tokens) - n + 1, 1))} if tokens \
        else set()


def prf(pred: str, truth: str) -> tuple[float, float]:
    p, t = shingles(pred), shingles(truth)
    if not p and not t:
        return 1.0, 1.0
    inter = len(p & t)
    return (inter / len(p) if p else 0.0), (inter / len(t) if t else 0.0)


def extraction() -> str:
    from readability import Document  # noqa: PLC0415 - bench-only dependency

    folder = CORPUS / "articles" / "scrapinghub-aeb"
    truth = json.loads((folder / "ground-truth.json").read_text())
    pages = {k: gzip.decompress((folder / "html" / f"{k}.html.gz").read_bytes()).decode("utf8")
             for k in truth}

    def readability(html: str) -> str:
        summary = Document(html).summary()
        return trafilatura.html2txt(summary) or ""

    systems: list[tuple[str, Callable[[str], str]]] = [
        ("trafilatura.extract (defaults)", lambda h: trafilatura.extract(h) or ""),
        ("trafilatura, include_comments=False",
         lambda h: trafilatura.extract(h, include_comments=False) or ""),
        ("trafilatura, favor_precision",
         lambda h: trafilatura.extract(h, favor_precision=True) or ""),
        ("readability-lxml", readability),
        ("**newsbot extract_page**", lambda h: extract_page(h).text),
    ]
    lines = [f"scrapinghub article-extraction-benchmark, {len(pages)} pages; 4-word shingles of "
             "`\\w+` tokens, precision and recall averaged over pages.", "",
             "| extractor | precision | recall | F1 |", "|---|---|---|---|"]
    for name, fn in systems:
        ps, rs = [], []
        for key, html in pages.items():
            p, r = prf(fn(html), truth[key]["articleBody"])
            ps.append(p)
            rs.append(r)
        p, r = sum(ps) / len(ps), sum(rs) / len(rs)
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {2 * p * r / (p + r):.3f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ language
def language() -> str:
    lines = ["lingua test sets (1,000 items per language); accuracy.", "",
             "| set | detector | " + " | ".join(sorted(TARGETS)) + " | overall |",
             "|---|---|" + "---|" * (len(TARGETS) + 1)]
    detectors: list[tuple[str, Callable[[str], str]]] = [("**newsbot**", detect_language)]
    try:
        from langdetect import detect  # noqa: PLC0415

        def langdetect_only(t: str) -> str:
            try:
                return str(detect(t))
            except Exception:
                return ""
        detectors.append(("langdetect alone", langdetect_only))
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder  # noqa: PLC0415
        lingua = LanguageDetectorBuilder.from_all_languages().build()

        def lingua_fn(t: str) -> str:
            found = lingua.detect_language_of(t)
            return found.iso_code_639_1.name.lower() if found else ""
        detectors.append(("lingua (anchor)", lingua_fn))
    except ImportError:
        lines.insert(1, "(lingua-language-detector not installed: anchor row skipped)")
    for name in ("lingua_sentences", "lingua_word_pairs", "lingua_single_words"):
        for label, fn in detectors:
            res = evaluate(fn, name)
            cells = " | ".join(f"{res[k]:.3f}" for k in sorted(TARGETS))
            lines.append(f"| {name.removeprefix('lingua_')} | {label} | {cells} | "
                         f"{res['overall']:.3f} |")
    # Short texts (titles, phrases: 12-39 characters) from all three sets, reported apart,
    # without a hint and with the right one (a feed that names its language).
    short = [json.loads(line) for name in ("lingua_sentences", "lingua_word_pairs",
                                           "lingua_single_words")
             for line in (CORPUS / "langid" / f"{name}.jsonl").read_text().splitlines()]
    short = [r for r in short if 12 <= len(r["text"]) <= 39]
    for label, hinted in (("**newsbot**, no hint", False), ("**newsbot**, feed hint", True)):
        ok: dict[str, int] = {}
        total: dict[str, int] = {}
        for r in short:
            got = detect_language(r["text"], r["lang"] if hinted else None)
            total[r["lang"]] = total.get(r["lang"], 0) + 1
            ok[r["lang"]] = ok.get(r["lang"], 0) + (got == r["lang"])
        cells = " | ".join(f"{ok.get(k, 0) / total[k]:.3f}" for k in sorted(TARGETS))
        lines.append(f"| short, 12-39 chars ({len(short):,}) | {label} | {cells} | "
                     f"{sum(ok.values()) / len(short):.3f} |")
    lines += ["", "Other-language sentences (bg, mk, sr, kk, …; 3,000) labelled as a target "
              "language:"]
    for label, fn in detectors:
        lines.append(f"* {label}: {confusable_rate(fn):.2%}")
    return "\n".join(lines)


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"the shared corpus is absent ({CORPUS}); nothing to evaluate")
    parts = sys.argv[1:] or ["summaries", "teasers", "clustering", "extraction", "language",
                             "topics"]
    if "summaries" in parts:
        write_section("Summaries", summaries(), "python bench/quality.py summaries")
    if "teasers" in parts:
        write_section("Summaries against publishers' teasers", teaser_summaries(),
                      "python bench/quality.py teasers")
    if "clustering" in parts:
        write_section("Story clustering", clustering(), "python bench/quality.py clustering")
    if "extraction" in parts:
        write_section("Extraction", extraction(), "python bench/quality.py extraction")
    if "language" in parts:
        write_section("Language identification", language(),
                      "python bench/quality.py language")
    if "topics" in parts:
        from bench.topics_eval import topics_table  # noqa: PLC0415
        write_section("Topic matching", topics_table(), "python bench/quality.py topics")


if __name__ == "__main__":
    main()
