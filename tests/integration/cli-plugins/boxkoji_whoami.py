"""A koji CLI plugin of our own, as a plugin author writes one: `koji boxkoji-whoami`."""

from koji.plugin import export_cli
from koji_cli.lib import activate_session


@export_cli
def handle_boxkoji_whoami(options, session, args):
    "[info] Print the name the hub knows you by"
    activate_session(session, options)
    print(session.getLoggedInUser()["name"])
