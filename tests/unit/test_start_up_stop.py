"""Stop signals are a thread's to wait for (bot.stopping): seen during start-up and while the
main thread is busy, with the deadline counted from the signal.

Each case runs in a child process: blocking SIGTERM in pytest's own process would outlive
the test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.conftest import ROOT

PRELUDE = """
import sys, threading, time
from bot.stopping import StopSignals
stops = StopSignals(deadline=float(sys.argv[1]))
stops.install()
print("ready", flush=True)
"""


def child(body: str, deadline: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + body, str(deadline)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_signal_during_start_up_is_kept_for_the_bot() -> None:
    # Start-up (imports, opening the store) takes seconds; the stop must wait for the bot,
    # neither kill the process with the default action nor be lost.
    proc = child("""
time.sleep(1.0)  # the signal arrives here, before anybody asked to hear of it
assert stops.requested
heard = threading.Event()
stops.when_requested(heard.set)
assert heard.is_set()
print("kept", flush=True)
""", deadline=30.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "kept" in out


def test_the_deadline_counts_from_the_signal_while_the_main_thread_is_busy() -> None:
    # The soak's leader took 12.1 s to stop: asyncio saw the SIGTERM only when its loop came
    # back to the selector. Here the main thread never comes back at all.
    proc = child("""
stops.when_requested(lambda: print("asked to stop", flush=True))
time.sleep(60)
print("main thread finished", flush=True)
""", deadline=1.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    took = time.monotonic() - sent
    assert proc.returncode == 0, out
    assert "asked to stop" in out and "main thread finished" not in out
    assert took < 5.0, f"exited {took:.1f} s after the signal (deadline 1 s)"


def test_a_child_process_can_be_stopped_with_its_own_sigterm() -> None:
    # Children inherit the blocked mask; ingest workers unblock it, or the pool's terminate
    # would do nothing.
    proc = child("""
import subprocess
code = "from bot.stopping import unblock_stop_signals as u; u(); import time; time.sleep(30)"
worker = subprocess.Popen([sys.executable, "-c", code])
time.sleep(1.5)
worker.terminate()
print("worker", worker.wait(timeout=10), flush=True)
""", deadline=30.0)
    out, _ = proc.communicate(timeout=30)
    assert f"worker {-signal.SIGTERM}" in out, out


def test_starting_worker_processes_keeps_the_signals_with_their_thread() -> None:
    # multiprocessing's resource tracker unblocks SIGTERM in the thread that first starts a
    # worker: the bot then died of SIGTERM's default action (-15) instead of stopping.
    proc = child("""
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from bot.ingest import exit_with_parent
pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=exit_with_parent,
                           initargs=(os.getpid(),))
assert pool.submit(len, "abc").result(timeout=30) == 3
stops.when_requested(lambda: print("asked to stop", flush=True))
print("workers up", flush=True)
time.sleep(60)
""", deadline=1.0)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "workers up"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "asked to stop" in out
