"""Amounts of money: integer base units with their token beside them, never a float.

BTT on TRON has 18 decimals, so ten BTT are 10**19 base units, past a 64-bit integer, and its
total supply is 9.9e32 base units. Python's ``int`` holds that exactly; ``float`` would not
(it keeps 53 bits), so nothing here accepts or produces one. ``Amount`` refuses to add or order
amounts of different tokens; in JSON an amount is always a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict


class Standard(StrEnum):
    TRC20 = "trc20"
    TRC10 = "trc10"
    NATIVE = "native"


# The live BTT is the TRC-20 token (redenominated 1:1000 in December 2021); the original TRC-10
# BTT (asset 1002000) is now called BTTOLD.
BTT_TRC20_MAINNET_CONTRACT = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
BTT_TRC20_NILE_CONTRACT = "TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn"
BTT_TRC10_ASSET_ID = "1002000"


class Token(StrEnum):
    """A token a fan can pay with; the value is what the database and the API store."""

    BTT = "BTT"  # TRC-20, 18 decimals
    BTTOLD = "BTTOLD"  # TRC-10 asset 1002000, 6 decimals
    TRX = "TRX"  # the chain's own coin, 6 decimals (1 TRX = 1,000,000 sun)

    @property
    def decimals(self) -> int:
        return _DECIMALS[self]

    @property
    def standard(self) -> Standard:
        return _STANDARDS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def total_supply_units(self) -> int:
        """No amount of this token can be larger: prices and invoices stay below it."""
        return _SUPPLY[self]


_DECIMALS = {Token.BTT: 18, Token.BTTOLD: 6, Token.TRX: 6}
_STANDARDS = {Token.BTT: Standard.TRC20, Token.BTTOLD: Standard.TRC10, Token.TRX: Standard.NATIVE}
_LABELS = {Token.BTT: "BTT (TRC-20)", Token.BTTOLD: "BTT (TRC-10, BTTOLD)", Token.TRX: "TRX"}

# 990,000,000,000 BTT before the 1:1000 redenomination, so 990,000,000,000,000 BTT after it.
BTT_TOTAL_SUPPLY_UNITS = 990_000_000_000_000 * 10**18

BTTOLD_TOTAL_SUPPLY_UNITS = 990_000_000_000 * 10**6
# TRX has no fixed cap (it is minted and burnt); ~100 billion exist. Nothing is priced in it.
_SUPPLY = {
    Token.BTT: BTT_TOTAL_SUPPLY_UNITS,
    Token.BTTOLD: BTTOLD_TOTAL_SUPPLY_UNITS,
    Token.TRX: 200_000_000_000 * 10**6,
}

# A uint256 (what a TRC-20 transfer carries) has at most 78 decimal digits.
MAX_DIGITS = 78
MAX_UNITS = 10**MAX_DIGITS - 1

_DECIMAL_STRING = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


class AmountError(ValueError):
    """A string that is not an exact amount of the token (or out of range)."""


class TokenMismatch(TypeError):
    """Two amounts of different tokens were added, subtracted or ordered."""


class AmountJson(TypedDict):
    value: str  # decimal, e.g. "1.5"
    units: str  # base units, e.g. "1500000000000000000"
    token: str


@dataclass(frozen=True, slots=True)
class Amount:
    """``units`` base units of ``token``. Differences may be negative; parsed amounts never are.

    ``==`` between different tokens is simply False (so amounts work as dict keys); ``<``,
    ``+`` and ``-`` between different tokens raise ``TokenMismatch``.
    """

    units: int
    token: Token

    def __post_init__(self) -> None:
        # bool is an int subclass; True BTT is a bug, not one base unit.
        if type(self.units) is not int:
            raise TypeError(f"base units must be an int, not {type(self.units).__name__}")
        if not isinstance(self.token, Token):
            object.__setattr__(self, "token", Token(self.token))
        if abs(self.units) > MAX_UNITS:
            raise AmountError(f"{self.units} base units is more than {MAX_DIGITS} digits")

    # --- making -------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, token: Token | str) -> Amount:
        """An exact amount from a decimal string such as ``"1.5"``.

        Raises ``AmountError`` for anything else: signs, exponents, spaces, separators, more
        decimals than the token has. Raises ``TypeError`` for a non-string (a float above all).
        """
        if not isinstance(text, str):
            raise TypeError(f"amounts are parsed from strings, not {type(text).__name__}")
        token = Token(token)
        match = _DECIMAL_STRING.fullmatch(text)
        if match is None:
            raise AmountError(f"{text!r} is not a decimal amount like 12.5")
        whole, fraction = match.group(1), match.group(2) or ""
        if len(fraction) > token.decimals:
            raise AmountError(f"{token.value} has {token.decimals} decimals; {text!r} has more")
        if len(whole.lstrip("0")) > MAX_DIGITS - token.decimals:
            raise AmountError(f"{text!r} is too large")
        units = int(whole) * 10**token.decimals + int(fraction.ljust(token.decimals, "0") or "0")
        return cls(units, token)

    @classmethod
    def parse_entered(cls, text: str, token: Token | str) -> Amount:
        """``parse`` of what a person typed (a form field, an API field): surrounding spaces
        are dropped first, as Django's form fields drop them."""
        if not isinstance(text, str):
            raise TypeError(f"amounts are parsed from strings, not {type(text).__name__}")
        return cls.parse(text.strip(), token)

    @classmethod
    def zero(cls, token: Token | str) -> Amount:
        return cls(0, Token(token))

    # --- showing ------------------------------------------------------------------------------

    def decimal_string(self, *, fixed: bool = False) -> str:
        """``"1.5"`` (or ``"1.500000000000000000"`` with ``fixed``): exact, never rounded."""
        sign = "-" if self.units < 0 else ""
        whole, fraction = divmod(abs(self.units), 10**self.token.decimals)
        digits = str(fraction).rjust(self.token.decimals, "0") if self.token.decimals else ""
        if not fixed:
            digits = digits.rstrip("0")
        return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"

    def __str__(self) -> str:
        return f"{self.decimal_string()} {self.token.value}"

    def to_json(self) -> AmountJson:
        return {"value": self.decimal_string(), "units": str(self.units), "token": self.token.value}

    @classmethod
    def from_json(cls, data: Any) -> Amount:
        """The inverse of ``to_json``: base units and token, checked against ``value``."""
        if not isinstance(data, dict) or not isinstance(data.get("units"), str):
            raise AmountError("an amount is {'units': '<digits>', 'token': ..., 'value': ...}")
        units = data["units"]
        if not units.isascii() or not units.isdigit():
            raise AmountError(f"{units!r} is not a number of base units")
        amount = cls(int(units), Token(data["token"]))
        if "value" in data and Amount.parse(data["value"], amount.token) != amount:
            raise AmountError("value and units disagree")
        return amount

    # --- arithmetic ---------------------------------------------------------------------------

    def _same_token(self, other: object, operation: str) -> Amount:
        if not isinstance(other, Amount):
            raise TypeError(f"cannot {operation} an Amount and {type(other).__name__}")
        if other.token is not self.token:
            raise TokenMismatch(f"cannot {operation} {self.token.value} and {other.token.value}")
        return other

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.units + self._same_token(other, "add").units, self.token)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.units - self._same_token(other, "subtract").units, self.token)

    def __neg__(self) -> Amount:
        return Amount(-self.units, self.token)

    def __lt__(self, other: Amount) -> bool:
        return self.units < self._same_token(other, "compare").units

    def __le__(self, other: Amount) -> bool:
        return self.units <= self._same_token(other, "compare").units

    def __gt__(self, other: Amount) -> bool:
        return self.units > self._same_token(other, "compare").units

    def __ge__(self, other: Amount) -> bool:
        return self.units >= self._same_token(other, "compare").units

    def __bool__(self) -> bool:
        return self.units != 0
