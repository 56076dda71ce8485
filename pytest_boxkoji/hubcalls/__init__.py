"""Hub call statistics: the hub records every call it serves (recording_app.py); stats.py reads and
sums the records; session.py is the pytest side (the `koji_hub_calls` fixture, --boxkoji-stats)."""
