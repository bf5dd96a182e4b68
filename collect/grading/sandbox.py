"""A time-limited sandbox for symbolic grading steps.

In the main thread a step runs under ``SIGALRM``; in any other thread (or when an alarm is already
pending) it is sent to a helper process (a ``python -c`` subprocess over pipes, safe after ``fork``) that
is killed and restarted if it overruns, so grading never hangs. Set ``collect.grading.sandbox.ISOLATE =
True`` (or ``COLLECT_GRADING_ISOLATE=1``) to send all symbolic work there, which also bounds C-level
arithmetic that SIGALRM cannot interrupt; it costs one pipe round trip per distinct answer.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .symbolic import SYMBOLIC, warm_up


class GradingTimeout(BaseException):
    """A symbolic step ran past its time limit.

    Derives from BaseException (like KeyboardInterrupt) so that the broad ``except Exception`` clauses
    inside sympy and math-verify cannot swallow it.
    """




def _alarm_handler(signum, frame):
    raise GradingTimeout("symbolic grading step timed out")


def _can_use_alarm() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0
    )


class _Worker:
    """A helper process that runs symbolic steps for callers outside the main thread.

    It is a plain ``python -c`` subprocess speaking JSON lines over stdin/stdout (not
    ``multiprocessing``, which would re-import the caller's ``__main__``). It applies the same SIGALRM
    limit in its own main thread; if it does not answer in time it is killed and restarted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner = os.getpid()

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from collect.grading.sandbox import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, text=True, bufsize=1,
        )

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            for f in (self._proc.stdin, self._proc.stdout):
                if f is not None:
                    f.close()
        self._proc = None

    def call(self, fname: str, args: tuple, timeout: float):
        with self._lock:
            if self._owner != os.getpid():  # forked: the pipes belong to the parent process
                self._proc, self._owner = None, os.getpid()
            first = self._proc is None or self._proc.poll() is not None
            if first:
                self._stop()
                self._start()
            # a fresh worker also needs time for its imports (sympy, math-verify)
            wait = timeout + (60.0 if first else 5.0)
            try:
                self._proc.stdin.write(json.dumps([fname, list(args), timeout]) + "\n")
                self._proc.stdin.flush()
                ready, _, _ = select.select([self._proc.stdout], [], [], wait)
                line = self._proc.stdout.readline() if ready else ""
            except (BrokenPipeError, OSError, ValueError):
                line = ""
            if not line:
                self._stop()  # overran or died: kill it; the next call starts a fresh one
                raise GradingTimeout(f"{fname} got no answer from the grading worker within {wait:.0f} s")
            ok, value = json.loads(line)
            if ok:
                return value
            raise GradingTimeout(value)


def _worker_main() -> None:  # pragma: no cover - runs in the helper process
    warm_up()
    for line in sys.stdin:
        fname, args, timeout = json.loads(line)
        try:
            reply = [True, _run_limited(SYMBOLIC[fname], tuple(args), timeout)]
        except GradingTimeout as e:
            reply = [False, str(e)]
        except Exception as e:  # noqa: BLE001 - report and keep serving
            reply = [False, f"{type(e).__name__}: {e}"]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


_WORKER = _Worker()
atexit.register(_WORKER._stop)


def _run_limited(fn, args: tuple, timeout: float):
    """Run ``fn(*args)`` in the main thread under a SIGALRM time limit."""
    old = signal.signal(signal.SIGALRM, _alarm_handler)
    # re-fire every 0.1 s in case a handler deep inside a library swallows the first one
    signal.setitimer(signal.ITIMER_REAL, timeout, 0.1)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


#: Run every symbolic step in the helper process, also in the main thread. The helper is killed when it
#: overruns, which also stops computations that SIGALRM cannot interrupt (long C-level arithmetic); the
#: cost is one pipe round trip per distinct answer. Default: the environment variable
#: ``COLLECT_GRADING_ISOLATE=1``, else off (in-process with SIGALRM in the main thread).
ISOLATE = os.environ.get("COLLECT_GRADING_ISOLATE", "0") not in ("", "0", "false", "no")


def with_timeout(fname: str, args: tuple, timeout: float):
    if not ISOLATE and _can_use_alarm():
        warm_up()
        return _run_limited(SYMBOLIC[fname], args, timeout)
    return _WORKER.call(fname, args, timeout)


__all__ = ["GradingTimeout", "ISOLATE", "with_timeout"]
