"""The TRON devnet as a real process (``manage.py tron_devnet``) and unmodified tronpy clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tronpy.keys import PrivateKey

from tests.conftest import Devnet, launch_devnet

BTT_TRC10 = "1002000"
BTT_TRC20 = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
TRX = "TRX"


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One devnet per test module; tests use fresh keys, so they do not see each other."""
    tmp_path = tmp_path_factory.mktemp("devnet")
    node = launch_devnet(tmp_path, tmp_path / "chain.sqlite3")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def devnet_factory(tmp_path: Path) -> Iterator[Callable[..., Devnet]]:
    """Starts devnets on a state file of the test's; the same file again is a restart."""
    started: list[Devnet] = []

    def factory(state: Path | None = None, **env: str) -> Devnet:
        node = launch_devnet(tmp_path, state or tmp_path / "chain.sqlite3", **env)
        started.append(node)
        return node

    try:
        yield factory
    finally:
        for node in started:
            node.stop()


@dataclass
class Wallet:
    key: PrivateKey

    @property
    def address(self) -> str:
        address: str = self.key.public_key.to_base58check_address()
        return address


def funded_wallet(devnet: Devnet, trx: int = 0, trc10: int = 0, trc20: int = 0) -> Wallet:
    """A new key holding what the faucet sent it, once a mined block has included it."""
    wallet = Wallet(PrivateKey.random())
    for token, amount in ((TRX, trx), (BTT_TRC10, trc10), (BTT_TRC20, trc20)):
        if amount:
            devnet.faucet(wallet.address, token, amount)
    devnet.mine()
    return wallet
