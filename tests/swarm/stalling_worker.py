"""``python -m tests.swarm.stalling_worker -A btt_platform worker ...``: a real Celery worker
whose hashing stops for good once it has hashed STALL_AT of the pieces (a fraction, e.g. 0.5),
after handing that progress to the database, so that a test can kill it mid-hash at a known
point instead of racing the hash.

Only the progress callback is wrapped: the bytes hashed and the torrent built are the product's.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from celery.signals import task_prerun


@task_prerun.connect
def _stall_hashing(**_: Any) -> None:
    from swarm import hashing

    reporter = hashing.ProgressReporter
    if getattr(reporter, "stalls", False):
        return
    stall_at = float(os.environ["STALL_AT"])
    report = reporter.__call__

    def stalling(self: hashing.ProgressReporter, done: int, total: int) -> None:
        report(self, done, total)
        if done >= stall_at * total:
            self.flush()  # the writer thread puts this progress in the database
            threading.Event().wait()  # until killed

    reporter.__call__ = stalling  # type: ignore[method-assign]
    reporter.stalls = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    from celery.__main__ import main

    sys.argv[0] = "celery"
    main()
