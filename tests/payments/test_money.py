"""Amounts: exact base units with their token; never a float, never mixed tokens."""

from __future__ import annotations

import json

import pytest

from payments.money import (
    BTT_TOTAL_SUPPLY_UNITS,
    MAX_UNITS,
    Amount,
    AmountError,
    Token,
    TokenMismatch,
)


def test_tokens_know_their_decimals() -> None:
    assert (Token.BTT.decimals, Token.BTTOLD.decimals, Token.TRX.decimals) == (18, 6, 6)


@pytest.mark.parametrize(
    ("text", "token", "units"),
    [
        ("1", Token.BTT, 10**18),
        ("1.5", Token.BTT, 15 * 10**17),
        ("0.000000000000000001", Token.BTT, 1),
        ("000.10", Token.BTT, 10**17),
        ("990000000000000", Token.BTT, BTT_TOTAL_SUPPLY_UNITS),
        ("990000000000000.000000000000000001", Token.BTT, BTT_TOTAL_SUPPLY_UNITS + 1),
        ("1.000001", Token.BTTOLD, 1_000_001),
        ("0", Token.TRX, 0),
    ],
)
def test_parse_is_exact(text: str, token: Token, units: int) -> None:
    assert Amount.parse(text, token) == Amount(units, token)


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".5",
        "1.",
        "-1",
        "+1",
        "1e18",
        "1,5",
        " 1",
        "1 ",
        "1_000",
        "0x10",
        "NaN",
        "inf",
        "\u0661",  # an Arabic-Indic digit: str.isdigit() says yes, money says no
        "1.0000000000000000001",  # 19 decimals; BTT has 18
    ],
)
def test_parse_refuses_anything_but_a_plain_decimal(text: str) -> None:
    with pytest.raises(AmountError):
        Amount.parse(text, Token.BTT)


def test_too_many_decimals_for_a_six_decimal_token() -> None:
    with pytest.raises(AmountError, match="6 decimals"):
        Amount.parse("1.0000001", Token.BTTOLD)


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(TypeError):
        Amount.parse(1.5, Token.BTT)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Amount(1.5, Token.BTT)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Amount(True, Token.BTT)


def test_more_than_78_digits_is_refused() -> None:
    assert Amount(MAX_UNITS, Token.BTT).units == 10**78 - 1
    with pytest.raises(AmountError):
        Amount(MAX_UNITS + 1, Token.BTT)
    with pytest.raises(AmountError):
        Amount.parse("1" + "0" * 61, Token.BTT)


@pytest.mark.parametrize(
    ("units", "token", "plain", "fixed"),
    [
        (15 * 10**17, Token.BTT, "1.5", "1.500000000000000000"),
        (10**18, Token.BTT, "1", "1.000000000000000000"),
        (1, Token.BTT, "0.000000000000000001", "0.000000000000000001"),
        (0, Token.TRX, "0", "0.000000"),
        (-1_500_000, Token.TRX, "-1.5", "-1.500000"),
        (BTT_TOTAL_SUPPLY_UNITS + 1, Token.BTT, "990000000000000.000000000000000001", None),
    ],
)
def test_formatting_is_exact(units: int, token: Token, plain: str, fixed: str | None) -> None:
    amount = Amount(units, token)
    assert amount.decimal_string() == plain
    if fixed is not None:
        assert amount.decimal_string(fixed=True) == fixed
    if units >= 0:
        assert Amount.parse(plain, token) == amount


def test_str_names_the_token() -> None:
    assert str(Amount.parse("12.5", Token.BTT)) == "12.5 BTT"


def test_json_is_strings_and_round_trips() -> None:
    amount = Amount(BTT_TOTAL_SUPPLY_UNITS + 1, Token.BTT)

    encoded = json.dumps(amount.to_json())

    assert json.loads(encoded) == {
        "value": "990000000000000.000000000000000001",
        "units": "990000000000000000000000000000001",
        "token": "BTT",
    }
    assert Amount.from_json(json.loads(encoded)) == amount


def test_json_with_disagreeing_value_and_units_is_refused() -> None:
    with pytest.raises(AmountError):
        Amount.from_json({"value": "2", "units": "1000000000000000000", "token": "BTT"})
    with pytest.raises(AmountError):
        Amount.from_json({"units": 10**18, "token": "BTT"})


def test_same_token_arithmetic_and_order() -> None:
    one = Amount.parse("1", Token.BTT)
    half = Amount.parse("0.5", Token.BTT)

    assert one + half == Amount.parse("1.5", Token.BTT)
    assert half - one == Amount(-(5 * 10**17), Token.BTT)
    assert half < one <= one < one + half
    assert sorted([one, half]) == [half, one]
    assert not Amount.zero(Token.BTT)
    assert one


def test_different_tokens_never_mix() -> None:
    btt = Amount.parse("1", Token.BTT)
    old = Amount.parse("1", Token.BTTOLD)

    for operation in (
        lambda: btt + old,
        lambda: btt - old,
        lambda: btt < old,
        lambda: btt <= old,
        lambda: btt > old,
        lambda: btt >= old,
    ):
        with pytest.raises(TokenMismatch):
            operation()
    assert btt != Amount(10**18, Token.TRX)  # equal units, different money
    assert len({btt, old, Amount(10**18, Token.BTT)}) == 2


def test_amounts_are_immutable() -> None:
    amount = Amount.parse("1", Token.BTT)
    with pytest.raises(AttributeError):
        amount.units = 2  # type: ignore[misc]
