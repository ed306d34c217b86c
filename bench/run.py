"""Runs the benches and writes their sections of bench/RESULTS.md, in one command.

    make bench                  every bench in BENCHES, in order
    make bench BENCH=ingest     one (or several: BENCH="ingest webseed")

Each bench is a module ``bench/<name>.py`` with ``section() -> str``: it runs the bench and
returns its markdown section, headed ``## <Title>``. That section replaces the one of the same
title in RESULTS.md (or is added at the end), and the file is written after each bench, so one
bench run updates its part only and a bench that fails leaves the others' parts as they were.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

RESULTS = BASE_DIR / "bench" / "RESULTS.md"
BENCHES = [
    "ingest",
    "webseed",
    "tracker",
    "watcher",
    "tip_fanout",
    "engine_stop",
    "seeding",
    "p2p_browsers",
    "replication",
    "reconcile",
    "pages",
]


def replace_section(document: str, section: str) -> str:
    """``document`` with the section headed like ``section`` (its first line) replaced by it,
    up to the next ``## `` heading; added at the end when there is none."""
    heading = section.splitlines()[0]
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with '## <Title>', not {heading!r}")
    lines = document.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == heading]
    block = section.rstrip("\n") + "\n"
    if not starts:
        return document.rstrip("\n") + "\n\n" + block
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), None)
    after = "".join(lines[end:]) if end is not None else ""
    return "".join(lines[:start]) + block + ("\n" + after if after else "")


def run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    make_section = getattr(module, "section", None)
    if make_section is None:
        raise RuntimeError(f"bench/{name}.py has no section()")
    began = time.monotonic()
    text = make_section()
    document = RESULTS.read_text() if RESULTS.exists() else "# Bench results\n"
    RESULTS.write_text(replace_section(document, text))
    print(f"{name}: section written ({time.monotonic() - began:.0f} s)", flush=True)


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        print(f"unknown benches: {' '.join(unknown)} (known: {' '.join(BENCHES)})")
        return 2
    failed = []
    for name in names or BENCHES:
        print(f"{name}: running ...", flush=True)
        try:
            run(name)
        except KeyboardInterrupt:
            print(f"{name}: interrupted; RESULTS.md keeps what was written so far")
            return 130
        except Exception:  # one bench failing leaves the others to run
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"failed: {' '.join(failed)} (their sections were left as they were)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(" ".join(sys.argv[1:]).split()))
