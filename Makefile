# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint migrate clean browser-deps api-fuzz-deps
AXE := .cache/axe/node_modules/axe-core/axe.min.js

# (Re)install only when pyproject.toml changes, so later runs start in seconds.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

run: migrate
	@echo "To use the admin, first create a user: $(PY) manage.py createsuperuser"
	$(PY) manage.py devserver 127.0.0.1:8000

test: $(STAMP) browser-deps api-fuzz-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# schemathesis fuzzes the API from outside (tests/test_api_fuzz.py runs its command). It
# has an environment of its own: it pins an older jsonschema-rs than Assay validates with.
SCHEMATHESIS := .cache/schemathesis/.installed
api-fuzz-deps: $(SCHEMATHESIS)
$(SCHEMATHESIS): Makefile
	test -x .cache/schemathesis/bin/python || $(PYTHON) -m venv .cache/schemathesis
	.cache/schemathesis/bin/python -m pip install --quiet 'schemathesis>=4,<5'
	touch $(SCHEMATHESIS)

# The browser tests drive Debian's Chromium (apt-get install chromium) and check pages
# with axe-core from npm; without them those tests are skipped (failed in CI).
browser-deps: $(AXE)
$(AXE):
	@if command -v npm >/dev/null; then \
		npm install --silent --no-save --no-audit --no-fund --prefix .cache/axe axe-core@4; \
	else echo "npm not found: the accessibility checks will be skipped"; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var .cache
