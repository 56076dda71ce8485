"""Repository-level pytest setup: pytester for the plugin's own behaviour tests."""

pytest_plugins = ["pytester"]
