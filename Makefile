# The two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WEB_CONCURRENCY ?= 2
WORKER_INTERVAL ?= 30
HTTPS  ?= 0
export FLASK_APP := app

VENDOR := relbuild/static/vendor/jsQR.js
# Minified, gzip and brotli copies of the scripts and styles (scripts/build_static.mjs), served when present.
DIST := relbuild/static/dist/.built
STATIC_SOURCES := $(wildcard relbuild/static/js/*.js relbuild/static/css/*.css)

.PHONY: run test migrate clean vendor translations compile-translations

# Compiled catalogs (.mo) are built, never committed: one per language folder under relbuild/translations/.
CATALOGS := $(wildcard relbuild/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

relbuild/translations/%/LC_MESSAGES/messages.mo: relbuild/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d relbuild/translations -l $*

compile-translations: $(COMPILED)

# Extract every message (Python, templates, scripts) into messages.pot, merge it into each catalog, compile.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k t -k tn:1,2 --add-comments=Translators: \
		--sort-by-file --no-wrap --project=Relbuild --copyright-holder=Relbuild -o relbuild/translations/messages.pot .
	$(BIN)/pybabel update --no-wrap --no-fuzzy-matching --ignore-obsolete -i relbuild/translations/messages.pot -d relbuild/translations
	$(BIN)/pybabel compile --statistics -d relbuild/translations


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

# Front-end packages from the committed lock file, served from static/vendor/.
$(VENDOR): package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && mkdir -p $(@D) && cp node_modules/jsqr/dist/jsQR.js $@; \
	else \
		echo "npm not found: the in-app camera scanner is off; photo upload and typed codes still work"; \
	fi

# Rebuilt whenever a script or style changes; without npm the app serves them as written.
$(DIST): $(VENDOR) $(STATIC_SOURCES) scripts/build_static.mjs
	@if [ -x node_modules/.bin/esbuild ]; then \
		node scripts/build_static.mjs && touch $@; \
	else \
		echo "npm not found: scripts and styles are served as written (not minified, compressed on the fly)"; \
	fi

vendor: $(VENDOR) $(DIST)

migrate: $(VENV)/.installed vendor compile-translations
	$(BIN)/flask db upgrade

# The web server and the follow-up worker side by side (scripts/serve.sh); `make run HTTPS=1` for phones.
run: migrate
	@HOST=$(HOST) PORT=$(PORT) HTTPS=$(HTTPS) WEB_CONCURRENCY=$(WEB_CONCURRENCY) WORKER_INTERVAL=$(WORKER_INTERVAL) \
		scripts/serve.sh

test: $(VENV)/.dev-installed vendor compile-translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
