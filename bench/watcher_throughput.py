"""The watcher bench's throughput rounds (``bench/watcher.py`` with options): blocks of TRC-20
BTT transfers, each paying a tip invoice exactly, read by the node's API alone, by the watcher's
proving alone, by the watcher as it runs, and settled once solidified."""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.devnet import Node


def make_invoices(creators: list[Any], count: int) -> list[Any]:
    from payments.invoices import create_invoice
    from payments.models import Invoice
    from payments.money import Amount, Token

    price = Amount.parse("100", Token.BTT)
    invoices = []
    for n in range(count):
        invoices.append(
            create_invoice(kind=Invoice.Kind.TIP, creator=creators[n % len(creators)], amount=price)
        )
    return invoices


def fill(node: Node, invoices: list[Any], per_block: int) -> list[int]:
    """One block per ``per_block`` invoices, each paid exactly; the block numbers."""
    blocks = []
    for start in range(0, len(invoices), per_block):
        for invoice in invoices[start : start + per_block]:
            node.pay(invoice.recipient, int(invoice.amount_due))
        blocks.append(node.mine())
    return blocks


def time_node_reads(node: Node, numbers: list[int]) -> float:
    started = time.perf_counter()
    for number in numbers:
        block = node.post("wallet/getblockbynum", num=number, visible=True)
        receipts = node.post("wallet/gettransactioninfobyblocknum", num=number, visible=True)
        if block["block_header"]["raw_data"]["number"] != number or not receipts:
            raise RuntimeError(f"block {number} did not come whole")
    return time.perf_counter() - started


def new_watcher(url: str) -> Any:
    from payments.chain.node import NodeClient
    from payments.chain.watcher import Watcher

    return Watcher(NodeClient(url), "devnet")


def time_proving(url: str, numbers: list[int], transfers: int) -> float:
    watcher = new_watcher(url)
    started = time.perf_counter()
    for number in numbers:
        scanned = watcher.scan(number)
        if scanned is None or len(scanned.transfers) != transfers:
            raise RuntimeError(f"block {number}: {scanned}")
    elapsed = time.perf_counter() - started
    watcher.node.close()
    return elapsed


def time_watching(url: str, first: int) -> tuple[float, Any]:
    watcher = new_watcher(url)
    watcher.start_from(first)
    started = time.perf_counter()
    watcher.serve(threading.Event(), until_caught_up=True)  # as watch_chain runs it
    return time.perf_counter() - started, watcher.stats


@dataclass
class Round:
    node: float
    prove: float
    watcher: float
    settle: float


def throughput_round(node: Node, creators: list[Any], args: argparse.Namespace) -> Round:
    from payments.models import Invoice

    invoices = make_invoices(creators, args.blocks * args.transfers)
    numbers = fill(node, invoices, args.transfers)
    blocks = len(numbers)
    node_s = time_node_reads(node, numbers)
    prove_s = time_proving(node.url, numbers, args.transfers)
    watch_s, stats = time_watching(node.url, numbers[0])
    ids = [invoice.pk for invoice in invoices]
    processing = Invoice.objects.filter(pk__in=ids, state="processing").count()
    if stats.credited != len(invoices) or processing != len(invoices):
        raise RuntimeError(f"credited {stats.credited}, processing {processing}: {stats}")
    # Solidify the round's blocks, then let the watcher settle their payments.
    node.post("devnet/mine", blocks=args.solidify)
    settle_s, stats = time_watching(node.url, numbers[-1] + 1)
    settled = Invoice.objects.filter(pk__in=ids, state="settled").count()
    if settled != len(invoices):
        raise RuntimeError(f"settled {settled} of {len(invoices)}: {stats}")
    return Round(blocks / node_s, blocks / prove_s, blocks / watch_s, blocks / settle_s)
