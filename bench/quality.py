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
    lines += ["", "Other-language sentences (bg, mk, sr, kk, …; 3,000) labelled as a target "
              "language:"]
    for label, fn in detectors:
        lines.append(f"* {label}: {confusable_rate(fn):.2%}")
    return "\n".join(lines)


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"the shared corpus is absent ({CORPUS}); nothing to evaluate")
    parts = sys.argv[1:] or ["summaries", "extraction", "language", "topics"]
    if "summaries" in parts:
        write_section("Summaries", summaries(), "python bench/quality.py summaries")
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
