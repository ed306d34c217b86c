"""Append-only records: the logs that say what happened to money and content (an invoice's
events, a pledge's events, the staff audit log). Rows are added, never changed or deleted, by
any path Django offers: ``save`` of an existing row, ``delete``, and queryset ``update`` and
``delete``."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class AppendOnly(Exception):
    """A record of what happened was about to be changed or deleted."""


class AppendOnlyQuerySet(models.QuerySet[M]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnly(f"{self.model._meta.verbose_name_plural} are never changed")

    def delete(self) -> NoReturn:
        raise AppendOnly(f"{self.model._meta.verbose_name_plural} are never deleted")


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly(f"{self._meta.verbose_name_plural} are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly(f"{self._meta.verbose_name_plural} are never deleted")
