"""Staff personas: a moderator, a finance person and a superuser, each in their role's group.

Fixtures: tests outside tests/staff import them (pytest finds fixtures a module imports)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from staff import roles
from tests.conftest import make_user


def role_group(role: str) -> Group:
    """The role's group as the migration made it. Made again here when a transactional test
    flushed the tables (a flush brings permissions back, not groups)."""
    group, _ = Group.objects.get_or_create(name=role)
    if not group.permissions.exists():
        wanted = []
        for name in roles.ROLE_PERMISSIONS[role]:
            app_label, codename = name.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
    return group


def staff_with_role(username: str, role: str) -> User:
    user = make_user(username, is_staff=True)
    user.groups.add(role_group(role))
    return user


@pytest.fixture
def moderator(db: None) -> User:
    return staff_with_role("moderator", roles.MODERATOR)


@pytest.fixture
def finance(db: None) -> User:
    return staff_with_role("finance", roles.FINANCE)


@pytest.fixture
def superuser(db: None) -> User:
    return make_user("root", is_staff=True, is_superuser=True)
