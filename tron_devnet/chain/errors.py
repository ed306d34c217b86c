"""How the chain refuses: broadcasts (java-tron's response codes), contracts and faults."""

from __future__ import annotations


class BroadcastError(Exception):
    """A refusal as java-tron words it: ``code`` is GrpcAPI.Return.response_code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ContractValidateError(Exception):
    pass


class FaultError(Exception):
    """A fault that cannot be injected (unknown or solidified transaction, spent effects)."""
