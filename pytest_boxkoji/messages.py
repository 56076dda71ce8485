"""koji_messages: what the hub's protonmsg plugin sent during a test, read from the broker by a
real AMQP 1.0 consumer (python-qpid-proton), never from the hub's database.

A subscription is a receiver on the broker's topic exchange for every Koji topic (`koji.#`),
made when the test starts: RabbitMQ gives it a queue of its own, which receives only what is
published after it exists, so nothing an earlier test made the hub send reaches it.

RabbitMQ 3 (Debian's) hands AMQP 1.0 messages on unchanged, and protonmsg sets neither `to` nor
`subject`: a delivered message does not say which topic it was sent to. protonmsg derives every
topic from what it also puts in the message's properties (its `type` and, for the state
changes, the new state); `topic_of` applies its rules.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

INSTALL = "pip install 'pytest-boxkoji[messages]'"
PREFETCH = 100  # messages the broker may push before the test reads them

# protonmsg's topics (plugins/hub/protonmsg.py, Koji 1.34 to master) from its properties.
TOPICS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "PackageListChange": lambda p: f"package.{p['action']}",
    "TaskStateChange": lambda p: f"task.{str(p['new']).lower()}",
    "BuildStateChange": lambda p: f"build.{str(p['new']).lower()}",
    "Import": lambda p: f"import.{p['importType']}",
    "RPMSign": lambda p: "sign.rpm",
    "Tag": lambda p: "build.tag",
    "Untag": lambda p: "build.untag",
    "RepoInit": lambda p: "repo.init",
    "RepoDone": lambda p: "repo.done",
    "BuildPromote": lambda p: "build.promote",
}


def topic_of(properties: Mapping[str, Any]) -> str | None:
    """The topic protonmsg sent a message with these properties to (None: a type it did not
    send in the Koji versions this knows)."""
    rule = TOPICS.get(str(properties.get("type")))
    try:
        return rule(properties) if rule else None
    except KeyError:
        return None


@dataclass(frozen=True)
class KojiMessage:
    """One message the hub sent: its topic (`build.tag`), properties (protonmsg's headers) and
    body (the JSON protonmsg sends, parsed; `text` as it came)."""

    topic: str | None
    properties: dict[str, Any]
    body: Any
    text: str

    def __str__(self) -> str:
        return f"{self.topic or '(topic unknown)'} {self.properties}"


class MessageNotReceived(AssertionError):
    """`wait` timed out: says what did arrive."""


def _require_proton() -> None:
    try:
        import proton  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"koji_messages reads the broker with python-qpid-proton, which is not installed "
            f"({exc}). Install it: {INSTALL}"
        ) from None


class KojiMessages:
    """A subscription to every message the hub sends from now on."""

    def __init__(self, url: str, topics: str) -> None:
        """`topics`: the broker's address for all of Koji's topics (`/topic/koji.#`)."""
        _require_proton()
        from proton.utils import BlockingConnection

        self._connection = BlockingConnection(url, timeout=30)
        # Returns once the broker attached the link: its queue exists and is bound.
        self._receiver = self._connection.create_receiver(topics, credit=PREFETCH)
        self._arrived: list[KojiMessage] = []
        self._returned: set[int] = set()  # what wait() has handed out already

    def _pull(self, timeout: float) -> bool:
        """Take one message off the connection within `timeout` seconds; False if none came."""
        from proton import Timeout

        try:
            received = self._receiver.receive(timeout=timeout)
        except Timeout:
            return False
        self._receiver.accept()
        given: dict[Any, Any] = received.properties or {}
        properties = {str(key): value for key, value in given.items()}
        text = received.body if isinstance(received.body, str) else repr(received.body)
        try:
            body = json.loads(text)
        except ValueError:
            body = received.body
        self._arrived.append(KojiMessage(topic_of(properties), properties, body, text))
        return True

    @property
    def messages(self) -> list[KojiMessage]:
        """Everything that arrived so far, oldest first. The broker delivers a moment after the
        hub's call returned: to wait for one, use wait()."""
        while self._pull(0.05):
            pass
        return list(self._arrived)

    def wait(self, topic: str, timeout: float = 10, **properties: Any) -> KojiMessage:
        """The first message on `topic` (`build.tag`; shell-style patterns too: `build.*`) whose
        properties include these values, not returned by an earlier wait; waits for it up to
        `timeout` seconds, else fails saying what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self._arrived):
                if index not in self._returned and _matches(message, topic, properties):
                    self._returned.add(index)
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise MessageNotReceived(self._nothing(topic, timeout, properties))
            self._pull(min(left, 1.0))

    def _nothing(self, topic: str, timeout: float, properties: dict[str, Any]) -> str:
        wanted = f"topic {topic!r}" + (f" with properties {properties}" if properties else "")
        arrived = self.messages
        if not arrived:
            return f"no message on {wanted} within {timeout:g} s; the hub sent none during this test"
        lines = [f"  {message}" for message in arrived]
        return f"no message on {wanted} within {timeout:g} s; the hub sent during this test:\n" + "\n".join(
            lines
        )

    def close(self) -> None:
        self._connection.close()  # the broker drops the subscription's queue


def _matches(message: KojiMessage, topic: str, properties: dict[str, Any]) -> bool:
    if message.topic is None or not fnmatch.fnmatchcase(message.topic, topic):
        return False
    return all(message.properties.get(key) == value for key, value in properties.items())
