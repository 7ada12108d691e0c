"""What the bot's own process loads: the summarizer stays in the extraction workers."""

from __future__ import annotations

import subprocess
import sys

from bot.summarize import summarize
from bot.summary_worker import summarize_in_worker
from tests.conftest import ROOT

TEXT = ("Minsk hosted border talks on Monday. The delegations met for six hours. "
        "Trade across the border fell by a third this year. Officials said talks go on.\n"
        "Observers called the meeting a first step. A second round is set for May.")


def test_the_bot_process_imports_neither_sumy_nor_nltk() -> None:
    # A child process: this one has imported both for other tests. sumy pulls in all of
    # NLTK (~28 MB resident), which the bot process has no use for.
    code = ("import sys, bot.__main__, bot.app, bot.ingest, handlers\n"
            "print(sorted(m for m in ('nltk', 'sumy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_worker_step_is_the_summarizer() -> None:
    assert summarize_in_worker(TEXT, "Border talks", "en", "hybrid", 2) \
        == summarize(TEXT, "Border talks", "en", "hybrid", 2)
    assert len(summarize_in_worker(TEXT, "Border talks", "en", "hybrid", 2)) == 2
