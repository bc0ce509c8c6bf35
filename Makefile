# The two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WEB_CONCURRENCY ?= 2
WORKER_INTERVAL ?= 30
export FLASK_APP := app

.PHONY: run test migrate clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Relbuild needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask db upgrade

# The web server and the follow-up worker side by side; Ctrl-C (or the end of gunicorn) stops both.
run: migrate
	@echo "Relbuild on http://$(HOST):$(PORT) with the follow-up worker beside it (Ctrl-C stops both)"
	@$(BIN)/flask followups worker --interval $(WORKER_INTERVAL) & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/gunicorn --workers $(WEB_CONCURRENCY) --threads 4 --bind $(HOST):$(PORT) \
		--access-logfile - app:app

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
