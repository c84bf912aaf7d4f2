# The two commands: `make run` and `make test`. Everything else builds on `make install`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CRM := $(VENV)/bin/crm
PLUGINS := payments item_lookup idca accounting_sync
# the accounting sync's Tryton connector is an extra (trytond + proteus): installed here so its
# tests run against a real Tryton server
PLUGIN_SPECS := -e plugins/payments -e plugins/item_lookup -e plugins/idca -e 'plugins/accounting_sync[tryton]'
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test bench clean translations

$(VENV)/.installed: setup.cfg $(foreach p,$(PLUGINS),plugins/$(p)/setup.cfg)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e '.[test]' $(PLUGIN_SPECS)
	$(VENV)/bin/pybabel -q compile -d core/crm/translations
	touch $@

install: $(VENV)/.installed  ## create .venv and install the core and every plugin

instance/crm.db: | install
	$(CRM) db upgrade
	$(CRM) demo

run: install instance/crm.db  ## serve the web UI on http://127.0.0.1:5000 with demo data
	$(CRM) db upgrade
	@echo
	@echo "  CRM running on http://$(HOST):$(PORT)"
	@echo "  Sign in as admin / admin1234 (also: sales, purchasing, warehouse, accounting; password <role>1234)"
	@echo
	$(CRM) run --host $(HOST) --port $(PORT)

test: install  ## run the whole test suite (CRM_TEST_DATABASE_URL picks PostgreSQL)
	$(PY) -m pytest $(PYTEST_ARGS)

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis  # instance/ keeps your database
