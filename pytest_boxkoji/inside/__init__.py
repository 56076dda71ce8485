"""Scripts that run inside the services, not in the test process: each is copied (or pointed
at) where a service's own Python runs it, with the services' virtualenv and Koji's code.

- boxkoji_plugin_conf.py: every hub process runs it before Koji loads its plugins (the
  plugins' files from the hub's own conf/plugins/, services/hub_plugins.py).
- recording_app.py: the hub's WSGI app when hub calls are recorded (hubcalls/stats.py reads).
- wsgi_app.py: the hub's and the web's WSGI app under --cov-hub / --cov-web (coverage/).
- daemon_launcher.py: how kojid and kojira start (services/builders.py).
- boxkoji_nomock.py: kojid's plugin that refuses build tasks where there is no mock.
- health.py: the proxy's /health service (services/proxy.py).

Nothing in the plugin imports them; they import only what the services' Python has.
"""

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
