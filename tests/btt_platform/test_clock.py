"""The platform clock: tests move it for this process and the processes they start."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from btt_platform import clock as platform_clock
from tests.fixtures.clock import Clock
from tests.fixtures.processes import BASE_DIR, process_environment


def test_the_clock_reads_the_wall_clock_until_moved(clock: Clock) -> None:
    assert abs(platform_clock.now() - timezone.now()) < timedelta(seconds=1)


def test_advancing_moves_now_by_that_much(clock: Clock) -> None:
    # when
    clock.advance(timedelta(days=30))
    clock.advance(timedelta(hours=1))

    # then
    ahead = platform_clock.now() - timezone.now()
    assert timedelta(days=30, minutes=59) < ahead <= timedelta(days=30, hours=1)


def test_production_ignores_the_offset_file(clock: Clock, settings: object) -> None:
    clock.advance(timedelta(days=400))
    settings.CLOCK_OFFSET_FILE = None  # type: ignore[attr-defined]
    assert abs(platform_clock.now() - timezone.now()) < timedelta(seconds=1)


@pytest.mark.processes
def test_a_process_the_test_started_sees_the_moved_clock(clock: Clock) -> None:
    # given
    clock.advance(timedelta(days=90))
    script = (
        "import django; django.setup(); from btt_platform import clock; print(clock.timestamp())"
    )

    # when
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=process_environment(DJANGO_SETTINGS_MODULE="btt_platform.settings"),
        capture_output=True,
        check=True,
        timeout=60,
    )

    # then
    ahead = float(out.stdout.decode().split()[-1]) - timezone.now().timestamp()
    assert (
        timedelta(days=89, hours=23).total_seconds() < ahead <= timedelta(days=90).total_seconds()
    )
