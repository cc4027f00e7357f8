# Run, test and benchmark the escalation console. Needs only Python 3.11 (python3.11 or python3)
# and make: the first target run creates .venv and installs requirements.txt into it.
# See docs/operations.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
VENV_PY := $(VENV)/bin/python
# Newer than both requirement files means the venv is up to date: pip is skipped.
STAMP := $(VENV)/.requirements-installed
PYTEST_ARGS ?=

.PHONY: help install run serve test bench migrate seed model clean

help:
	@echo "make run      the local demo: Redis, Daphne, a Celery worker and beat, demo logins and key (Ctrl-C stops all)"
	@echo "make serve    the production start: the same stack, no demo data; needs SECRET_KEY (HOST, PORT)"
	@echo "make test     run the test suite (extra pytest args: PYTEST_ARGS='-k foo -x')"
	@echo "make migrate  apply database migrations"
	@echo "make model    retrain the risk model from conversations/risk/corpus/ (docs/risk.md)"
	@echo "make bench    run the benchmark (scripts/bench), if there is one"
	@echo "make clean    remove var/ and .venv"

$(VENV_PY):
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 not found: install python3.11 (or set PYTHON=...)" >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.version_info[:2] == (3, 11) or print("warning: $(PYTHON) is Python %d.%d; the project targets 3.11" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "could not create $(VENV) (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

$(STAMP): requirements.txt constraints.txt | $(VENV_PY)
	$(VENV_PY) -m pip install -r requirements.txt -c constraints.txt
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(VENV_PY) scripts/run_stack.py

# Production: no seed_demo, no /demo/, refuses to start without a real SECRET_KEY (docs/operations.md).
serve: $(STAMP)
	$(VENV_PY) scripts/run_stack.py --serve

# pytest exits 5 when it collects no test: that stays a failure.
test: $(STAMP)
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

migrate: $(STAMP)
	$(VENV_PY) manage.py migrate --noinput

seed: $(STAMP)
	$(VENV_PY) manage.py seed_demo

model: $(STAMP)
	$(VENV_PY) manage.py train_risk_model

bench:
	@if [ -f scripts/bench.py ] || [ -f scripts/bench/__main__.py ]; then \
		$(MAKE) --no-print-directory install && $(VENV_PY) -m scripts.bench; \
	else \
		echo "There is no benchmark yet (scripts/bench.py)."; \
	fi

clean:
	rm -rf var $(VENV)
