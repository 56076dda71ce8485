"""--cov-hub: coverage of Koji's server code, measured inside the hub, reported by pytest.

- `hub_app.py` runs inside the hub (copied next to its config): coverage around each request.
- `data.py` prepares the hub's data directory, combines and reports the data.
- `session.py` is the pytest side: the current test as context, the report, fail-under.
"""
