"""Shipped with the plugin for the tests of other plugins and connectors: an in-memory
accounting system and its connector (``memory``), see ``docs/hooks/accounting.md``. The
plugin's own test servers (the QuickBooks fake, a Tryton server) live in its ``tests/``."""
