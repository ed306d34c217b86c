"""Unmodified TronWeb (npm) driven from the tests: js/tronweb_client.mjs run by node."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tronpy.keys import PrivateKey

from tests.fixtures.devnet import Devnet, Wallet
from tests.fixtures.processes import BASE_DIR

SCRIPT = BASE_DIR / "tests" / "tron_devnet" / "js" / "tronweb_client.mjs"


def tronweb(devnet: Devnet, action: str, wallet: Wallet | None = None, **arguments: Any) -> Any:
    """Run one TronWeb action against the devnet; its JSON answer, which must be a success."""
    node = shutil.which("node")
    assert node, "Node.js is needed to run TronWeb"
    assert (BASE_DIR / "node_modules" / "tronweb").is_dir(), "TronWeb is missing: run make setup"
    command = {"node": devnet.url, "action": action, **arguments}
    if wallet is not None:
        command["private_key"] = wallet.key.hex()
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(command),
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=120,  # a hang guard only
    )
    assert done.stdout, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True, (answer, done.stderr)
    return answer


def a_stranger() -> str:
    address: str = PrivateKey.random().public_key.to_base58check_address()
    return address
