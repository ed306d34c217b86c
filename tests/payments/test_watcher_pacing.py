"""How the chain watcher paces itself: when to ask for the next block, how long to back off,
and what it takes for a block (pure functions, no node)."""

from __future__ import annotations

from typing import Any

import pytest

from payments.chain.blocks import Block, MalformedAnswer, parse_block, parse_receipts
from payments.chain.pacing import Pacer, backoff


def block(number: int, stamp: float) -> Block:
    return Block(number, "ab" * 32, "cd" * 32, int(stamp * 1000), ())


def test_following_the_head_it_waits_for_the_next_block_instead_of_asking_in_vain() -> None:
    # given: blocks every 3 s, each there at the first ask
    pacer = Pacer(poll=0.5)
    for n in range(4):
        pacer.saw(block(n, 1000.0 + 3 * n), now=1000.4 + 3 * n)

    # then: the last one (made at 1009.0) is the newest; the next is due at 1012.0
    assert pacer.newest(block(3, 1009.0), now=1009.4)
    assert pacer.delay(now=1009.4) == pytest.approx(2.6)
    # due and not there yet: ask again soon, then (a producer missed its slot) every poll
    assert pacer.delay(now=1012.05) == 0.1
    assert pacer.delay(now=1013.5) == 0.5


def test_it_learns_how_long_after_its_timestamp_a_block_can_be_read() -> None:
    pacer = Pacer(poll=0.5)
    pacer.saw(block(0, 1000.0), now=1000.1)
    pacer.saw(block(1, 1003.0), now=1003.1)
    assert pacer.offset == 0.0

    # when: the next two blocks were not there at the first ask
    pacer.missed()
    pacer.saw(block(2, 1006.0), now=1006.2)
    pacer.missed()
    pacer.missed()
    pacer.saw(block(3, 1009.0), now=1009.2)

    # then: it asks later after each
    assert pacer.offset == pytest.approx(0.1)
    assert pacer.delay(now=1009.2) == pytest.approx(2.9)

    # when: the next one was there at once: a little earlier again
    pacer.saw(block(4, 1012.0), now=1012.1)
    assert pacer.offset == pytest.approx(0.05)


def test_a_burst_of_blocks_made_at_once_is_read_without_waiting() -> None:
    # given: blocks a millisecond apart (mined at once), read seconds after they were made
    pacer = Pacer(poll=0.5)
    for n in range(5):
        pacer.saw(block(n, 1000.0 + n / 1000), now=1004.0 + n / 100)

    # then: none of them is the newest there can be
    assert not pacer.newest(block(4, 1000.004), now=1004.05)
    assert pacer.delay(now=1004.05) == 0.5


def test_an_old_block_teaches_nothing_about_the_rhythm() -> None:
    pacer = Pacer(poll=0.5)
    pacer.saw(block(1, 1000.0), now=2000.0)
    pacer.saw(block(2, 1003.0), now=2000.1)

    assert not pacer.newest(block(2, 1003.0), now=2000.1)
    assert pacer.delay(now=2000.1) == 0.5


def test_backoff_doubles_up_to_its_ceiling() -> None:
    delays = [backoff(failures, ceiling=60.0) for failures in range(1, 10)]

    for delay, full in zip(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60], strict=True):
        assert 0.9 * full <= delay <= full


def test_a_block_is_read_only_as_what_java_tron_answers() -> None:
    good: dict[str, Any] = {
        "blockID": "00" * 32,
        "block_header": {"raw_data": {"number": 7, "timestamp": 5, "parentHash": "11" * 32}},
        "transactions": [{"txID": "22" * 32}],
    }

    parsed = parse_block(good, 7)

    assert parsed is not None
    assert (parsed.number, parsed.parent_id, parsed.timestamp_ms) == (7, "11" * 32, 5)
    assert parse_block({}, 8) is None  # not made yet
    for bad, number in [
        (good, 8),  # another block than asked for
        ({"Error": "class java.lang.NullPointerException"}, 7),
        ({**good, "blockID": "zz" * 32}, 7),
        ({**good, "transactions": {"txID": "22" * 32}}, 7),
        ({"block_header": {"raw_data": "x"}}, 7),
    ]:
        with pytest.raises(MalformedAnswer):
            parse_block(bad, number)


def test_receipts_must_all_be_of_the_block_asked_for() -> None:
    receipt = {"id": "AB" * 32, "blockNumber": 7}

    assert parse_receipts([receipt], 7) == {"ab" * 32: receipt}
    with pytest.raises(MalformedAnswer):
        parse_receipts([receipt], 8)
    with pytest.raises(MalformedAnswer):
        parse_receipts(["not a receipt"], 7)
