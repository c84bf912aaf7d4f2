"""Test helpers shipped with the plugin: an in-memory connector (for the engine and for
third-party connector authors) and a contract fake of the QuickBooks Online API."""
