"""--cov-hub / --cov-web (--cov-koji: both): coverage of Koji's server code, measured inside the
services that run it, reported by pytest.

- `wsgi_app.py` runs inside the hub's and the web's mod_wsgi daemons (copied next to their
  config) in place of Koji's WSGI script: coverage around each request.
- `data.py` prepares the data directory, combines and reports the data.
- `session.py` is the pytest side: the current test as context, the report, fail-under.
"""
