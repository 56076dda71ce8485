"""Facts about the hub shared by several test modules."""


def is_infrastructure(user_name: str) -> bool:
    """kojira and the builders' users: once a test of the session has started workers, they are
    part of every state (the empty hub included), whatever the test order."""
    return user_name == "kojira" or user_name.startswith("compile/")
