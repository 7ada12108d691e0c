"""What the bot's own process loads (the summarizer stays in the extraction workers), and how
many of those workers it starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.ingest import ingest_workers, usable_cores
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


def test_worker_processes_follow_the_cores_this_process_may_use() -> None:
    # Pinned to one core (taskset, a container's cpuset), a process spawned two workers for
    # the machine's two cores: three processes taking turns on one core. The affinity counts.
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert usable_cores() == 1
        assert ingest_workers() == 0, "one usable core: the work stays in this process"
    finally:
        os.sched_setaffinity(0, before)
    assert usable_cores() == len(before)
    assert ingest_workers() == (min(len(before), 4) if len(before) > 1 else 0)
