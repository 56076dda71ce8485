# A hub plugin as a Koji plugin author would write one: loaded by the real hub in the tests.
from koji.plugin import export


@export
def boxkojiHello(name):
    return f"hello, {name}, from a user's hub plugin"
