"""An example plugin: greetings, to learn how plugins are written (see docs/writing-plugins.md)."""
