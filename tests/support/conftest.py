"""The payments tests' devnet fixtures, for the tips paid on the devnet."""

from tests.payments.conftest import devnet_factory

__all__ = ["devnet_factory"]
