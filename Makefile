# The two commands: `make run` and `make test` (`make check`: its fast part). Everything else builds
# on `make install`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CRM := $(VENV)/bin/crm
PLUGINS := payments item_lookup idca accounting_sync warehouses
# the accounting sync's Tryton connector is an extra (trytond + proteus): installed here so its
# tests run against a real Tryton server; IDCA's test extra holds what its tests check formulas with
PLUGIN_SPECS := -e plugins/payments -e plugins/item_lookup -e 'plugins/idca[test]' -e 'plugins/accounting_sync[tryton]' -e plugins/warehouses
PYTEST_ARGS ?=
# the fast tests: no browser, no Tryton server, nothing marked slow (markers of crm.testing)
FAST_TESTS := not browser and not tryton and not slow
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test check plugin-tests lint bench clean translations reference

$(VENV)/.installed: setup.cfg $(foreach p,$(PLUGINS),plugins/$(p)/setup.cfg)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e '.[test,lint]' $(PLUGIN_SPECS)
	$(VENV)/bin/pybabel -q compile -d core/crm/translations
	touch $@

install: $(VENV)/.installed  ## create .venv and install the core and every plugin

instance/crm.db: | install
	$(CRM) db upgrade
	$(CRM) demo

run: install instance/crm.db  ## serve the web UI on http://127.0.0.1:5000 with demo data, and the background worker
	$(CRM) db upgrade
	@echo
	@echo "  CRM running on http://$(HOST):$(PORT) (gunicorn, with a background worker; Ctrl+C stops both)"
	@echo "  Sign in as admin / admin1234 (also: sales, purchasing, warehouse, accounting; password <role>1234)"
	@echo
	$(CRM) serve --with-worker --host $(HOST) --port $(PORT)

test: install  ## run the whole test suite (CRM_TEST_DATABASE_URL picks PostgreSQL; CRM_SKIP_BROWSER=1 skips the browser tests)
	tools/ensure-chromium
	$(PY) -m pytest $(PYTEST_ARGS)

check: install  ## the fast tests on two processes, a few minutes: what to run while you work
	$(PY) -m pytest -q -n 2 -m "$(FAST_TESTS)" $(PYTEST_ARGS)

plugin-tests: install  ## each plugin's fast tests from its own folder, as if only the core and that plugin were installed
	for p in $(PLUGINS); do echo "== plugins/$$p"; \
		(cd plugins/$$p && CRM_PLUGINS=$$p $(abspath $(PY)) -m pytest -q -m "$(FAST_TESTS)" $(PYTEST_ARGS)) || exit 1; done

lint: install  ## ruff, the import contracts (.importlinter), mypy and the money rule; settings in pyproject.toml
	$(VENV)/bin/ruff check .
	PYTHONPATH=docs/example-plugin $(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/mypy
	$(PY) tools/check_money.py

bench: install  ## print the performance figures
	$(PY) -m bench

translations: install  ## extract the messages of the core and each plugin, update their Spanish catalogues, compile
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -k lazy_ngettext:1,2 --no-location --sort-by-file \
		--project crm -o core/crm/translations/messages.pot .
	$(VENV)/bin/pybabel -q update --no-fuzzy-matching -i core/crm/translations/messages.pot -d core/crm/translations
	$(VENV)/bin/pybabel -q compile -d core/crm/translations
	for p in $(PLUGINS); do dir=plugins/$$p/crm_$$p; \
		$(VENV)/bin/pybabel -q extract -F plugins/babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -k lazy_ngettext:1,2 --no-location --sort-by-file \
			--project crm-$$p -o $$dir/translations/messages.pot $$dir && \
		$(VENV)/bin/pybabel -q update --no-fuzzy-matching -i $$dir/translations/messages.pot -d $$dir/translations && \
		$(VENV)/bin/pybabel -q compile -d $$dir/translations || exit 1; done

reference: install  ## write docs/reference.md from the code (tests/test_reference.py checks it)
	$(PY) -m crm.docs_reference docs/reference.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis  # instance/ keeps your database
