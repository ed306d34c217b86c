"""Configuration from the environment: typed helpers, production refusals, system checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from btt_platform.checks import check_site_url
from btt_platform.env import env_bool, env_float, env_int, env_int_map, env_list
from payments.checks import check_tron_settings
from swarm.checks import check_swarm_settings
from tests.fixtures.processes import BASE_DIR

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7Yq!v3LmN0pQr8sT2uVw5yZ1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab",
    "SITE_URL": "https://creators.example.com",
    "ALLOWED_HOSTS": "creators.example.com",
    "TRON_NETWORK": "mainnet",
    "TRON_API_KEY": "key",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
    )


@pytest.mark.processes
def test_check_deploy_is_clean_with_production_settings() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.processes
def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


@pytest.mark.processes
def test_production_refuses_plain_http_site_url() -> None:
    result = run_manage("check", env={**PRODUCTION, "SITE_URL": "http://creators.example.com"})

    assert result.returncode != 0
    assert "btt_platform.E002" in result.stderr


def test_malformed_environment_values_fail_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("X_FLAG", "maybe")
    monkeypatch.setenv("X_PORT", "eighty")
    monkeypatch.setenv("X_LIST", " a, ,b ")

    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="X_PORT"):
        env_int("X_PORT", 1)
    assert env_list("X_LIST", []) == ["a", "b"]


def test_numbers_and_maps_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_SECONDS", "0.5")
    monkeypatch.setenv("X_NAN", "nan")
    monkeypatch.setenv("X_UNITS", "BTT=200000000000000000000000, TRX=5")
    monkeypatch.setenv("X_BAD_UNITS", "BTT=2e20")

    assert env_float("X_SECONDS", 3.0, minimum=0.1) == 0.5
    assert env_float("X_UNSET", 3.0) == 3.0
    with pytest.raises(ImproperlyConfigured, match="X_SECONDS"):
        env_float("X_SECONDS", 3.0, minimum=1)
    with pytest.raises(ImproperlyConfigured, match="X_NAN"):
        env_float("X_NAN", 3.0, minimum=0)
    # exact integers past a float's precision, as base units need
    assert env_int_map("X_UNITS") == {"BTT": 200000000000000000000000, "TRX": 5}
    assert env_int_map("X_UNSET") == {}
    with pytest.raises(ImproperlyConfigured, match="X_BAD_UNITS"):
        env_int_map("X_BAD_UNITS")


def test_tron_checks(settings: Settings) -> None:
    settings.TRON_NETWORK = "testnet3"
    settings.TRON_API_URL = "ftp://node"

    ids = {problem.id for problem in check_tron_settings(None)}

    assert ids == {"payments.E001", "payments.E002"}


def test_swarm_checks(settings: Settings, tmp_path: object) -> None:
    settings.SWARM_LISTEN_INTERFACES = "127.0.0.1"

    ids = {problem.id for problem in check_swarm_settings(None)}

    assert ids == {"swarm.E001"}


def test_site_url_check(settings: Settings) -> None:
    settings.SITE_URL = "creators.example.com"

    assert [p.id for p in check_site_url(None)] == ["btt_platform.E001"]


POOL_PROBE = (
    "from django.db import connections; pool = connections['default'].pool; "
    "print(type(pool).__name__, getattr(pool, 'max_size', None), "
    "connections['default'].settings_dict['CONN_HEALTH_CHECKS'])"
)


@pytest.mark.processes
@pytest.mark.parametrize(
    ("size", "printed"),
    [("4", "ConnectionPool 4 True"), ("", "NoneType None False"), ("0", "NoneType None False")],
)
def test_database_pool_size_pools_postgresql_connections_per_process(
    size: str, printed: str
) -> None:
    # given: PostgreSQL, with a pool size or without one (the pool opens on first use, so no
    # server is needed to build it)
    env = {
        "DEBUG": "true",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "DATABASE_POOL_SIZE": size,
    }

    # when: a process reads its database settings
    result = run_manage("shell", "-c", POOL_PROBE, env=env)

    # then: a pool of that many connections, each checked as it is handed out; none without
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == printed
