"""A model field for base units of a token: exact up to 78 digits on PostgreSQL and SQLite.

PostgreSQL stores ``numeric(78, 0)``: exact, ordered, and enough for any uint256. SQLite has no
exact type that large: its INTEGER is 64-bit and a ``DecimalField`` is stored as a REAL, so
10**24 + 1 would come back as 10**24. There the value is a zero-padded 78-digit string in a TEXT
column, where string order is number order, so equality lookups (unique amounts), ranges and
``order_by`` stay right. Negative amounts are refused: a stored amount is always owed or paid.

What does not work on SQLite: arithmetic in SQL (``F("units") + 1``) and ``Sum``; add amounts in
Python (``payments.money.Amount``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from payments.money import MAX_DIGITS, MAX_UNITS


def _as_units(value: object) -> int:
    units: int
    if isinstance(value, int) and not isinstance(value, bool):
        units = value
    elif (isinstance(value, Decimal) and value == value.to_integral_value()) or (
        isinstance(value, str) and value.isascii() and value.isdigit()
    ):
        units = int(value)
    else:
        # Floats (and bools) above all: a float has already lost the low digits.
        raise ValidationError(
            "%(value)r is not a whole number of base units.",
            code="invalid_units",
            params={"value": value},
        )
    if not 0 <= units <= MAX_UNITS:
        raise ValidationError(
            "%(value)s base units is out of range (0 to 78 digits).",
            code="units_out_of_range",
            params={"value": units},
        )
    return units


class BaseUnitsField(models.Field[int, int]):
    description = "Base units of a token (a non-negative integer of up to 78 digits)"
    empty_strings_allowed = False

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        if connection.vendor == "postgresql":
            return f"numeric({MAX_DIGITS}, 0)"
        return f"varchar({MAX_DIGITS})"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else _as_units(value)

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        if connection.vendor == "postgresql":
            # psycopg sends a Decimal as numeric; a huge int would be numeric too, but saying so
            # keeps the parameter's type the column's type in every lookup.
            return Decimal(value)
        return str(value).rjust(MAX_DIGITS, "0")

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        return None if value is None else int(value)

    def to_python(self, value: Any) -> Any:
        return None if value is None else _as_units(value)

    def value_to_string(self, obj: models.Model) -> str:
        # Serialised (dumpdata, fixtures) as a string: JSON numbers this large turn into floats.
        value = self.value_from_object(obj)
        return "" if value is None else str(value)
