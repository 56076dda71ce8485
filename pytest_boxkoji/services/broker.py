"""The message broker: RabbitMQ with its AMQP 1.0 plugin, the other end of Koji's own protonmsg
hub plugin. Two parts: `broker` runs RabbitMQ; `messages` points the hub's protonmsg at it.

Debian's ActiveMQ (the broker family of the Unified Message Bus) is built without its AMQP
module ("Transport scheme NOT recognized: [amqp]"): RabbitMQ is the AMQP 1.0 broker Debian has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_boxkoji import box, hostprogs, servicespy
from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.graph import Context, Part, Restoring
from pytest_boxkoji.messages import INSTALL, KojiMessages
from pytest_boxkoji.partkey import Key
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.services import Check, Service, probed_at
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.hub_plugins import Sections
from pytest_boxkoji.servicespy import PYTHON
from pytest_boxkoji.templates import render

if TYPE_CHECKING:
    from pytest_boxkoji.runtimes import Runtime

PLUGIN = "protonmsg"  # the hub plugin that sends to the broker
# RabbitMQ's form for its topic exchange (protonmsg knows it): koji.build.tag and so on.
TOPIC_PREFIX = "/topic/koji"
# Erlang's port mapper in the foreground, in the service's process group: RabbitMQ would
# otherwise start one as a daemon that outlives it. Then the broker, once the mapper answers.
LAUNCH = """\
"$1" -port "$ERL_EPMD_PORT" &
mapper=$!
until "$1" -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; do
    kill -0 "$mapper" 2>/dev/null || { echo "epmd (Erlang's port mapper) ended" >&2; exit 1; }
    sleep 0.05
done
exec "$2"
"""


@dataclass(frozen=True)
class Broker:
    """The running broker: AMQP 1.0 (and 0-9-1) on one port."""

    endpoint: Endpoint
    epmd: Endpoint
    dist: Endpoint
    directory: Path

    @property
    def url(self) -> str:
        """The test process's view."""
        return f"amqp://{self.endpoint.client_address}"

    @property
    def service_url(self) -> str:
        """The other services' view (the hub)."""
        return f"amqp://{self.endpoint.address}"


BROKER: Key[Broker] = Key("broker")  # its part's name, typed with this handle (graph.Key)


def answers(url: str) -> bool:
    """An AMQP 1.0 connection opens and a receiver on a topic attaches (the plugin is up)."""
    from proton.utils import BlockingConnection

    connection = BlockingConnection(url, timeout=5)
    try:
        connection.create_receiver(f"{TOPIC_PREFIX}.boxkoji.ready")
        return True
    finally:
        connection.close()


def _erlang(address: str) -> str:
    """127.0.0.1 as an Erlang tuple."""
    return "{" + address.replace(".", ",") + "}"


def start(context: Context) -> Broker:
    try:
        import proton  # noqa: F401  # the readiness check and koji_messages read with it
    except ImportError as exc:
        raise BoxKojiError(
            f"The message broker is read with python-qpid-proton, not installed here ({exc}). "
            f"Install it: {INSTALL}"
        ) from None
    runtime, workspace = context.runtime, context.workspace
    directory = workspace.directory / "broker"
    directory.mkdir()
    broker = Broker(
        runtime.endpoint("broker", 5672),
        epmd=runtime.endpoint("broker", 4369),  # Erlang's names, one mapper per session
        dist=runtime.endpoint("broker", 25672),  # Erlang's distribution (rabbitmqctl)
        directory=directory,
    )
    config = directory / "rabbitmq.conf"
    config.write_text(render("rabbitmq.conf", bind=broker.endpoint.bind, port=broker.endpoint.port))
    (directory / "enabled_plugins").write_text("[rabbitmq_amqp1_0].\n")
    (directory / "rabbitmq-env.conf").write_text("")
    workspace.chown(directory)
    context.start_service(service(broker, tools_of(runtime)))
    return broker


def tools_of(runtime: Runtime) -> Tools:
    return runtime.tools("broker", hostprogs.RABBITMQ, hostprogs.EPMD)


def service(broker: Broker, tools: Tools) -> Service:
    """RabbitMQ on the files `start` wrote in the broker's directory."""
    directory, dist, epmd = broker.directory, broker.dist, broker.epmd
    env = {
        "HOME": str(directory),  # its Erlang cookie
        "LANG": "C.UTF-8",
        # Everything in the session's directory: none of the host's /etc/rabbitmq or /var/lib.
        "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
        "RABBITMQ_LOG_BASE": str(directory / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
        "RABBITMQ_NODENAME": "rabbit@localhost",
        "RABBITMQ_DIST_PORT": str(dist.port),
        "ERL_EPMD_PORT": str(epmd.port),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"-kernel inet_dist_use_interface {_erlang(dist.bind)}",
    }
    if epmd.bind != "0.0.0.0":  # epmd adds loopback itself: with "every address" it clashes
        env["ERL_EPMD_ADDRESS"] = epmd.bind
    return Service(
        name="broker",
        command=[
            "/bin/sh",
            "-c",
            LAUNCH,
            "broker",
            tools.path(hostprogs.EPMD),
            tools.path(hostprogs.RABBITMQ),
        ],
        ready=Check("an AMQP 1.0 receiver attaches to a topic", lambda: answers(broker.url)),
        log=directory / "broker.log",
        env=env,
        cwd=directory,
        deadline=90,  # Erlang boots slowly on a busy machine
        image="broker",
    )


def restore(restoring: Restoring, data: dict[str, Any]) -> Broker:
    broker = box.rebuilt(Broker, data)
    restoring.adopt(service(broker, tools_of(restoring.runtime)), [broker.endpoint, broker.epmd, broker.dist])
    return broker


def health(broker: Broker) -> list[dict[str, object]]:
    return probed_at("broker", "amqp", broker.endpoint, "an AMQP 1.0 protocol header answered")


def protonmsg_config(broker: Broker) -> dict[str, Sections]:
    """protonmsg.conf for the session's broker.

    No database queue ([queue] enabled = false): a message the broker did not take is not kept
    in the hub's proton_queue table to be sent with a later request, which could be another
    test's, or be saved in a snapshot and sent again after every restore. The broker is up
    whenever the plugin runs, so messages go out before the hub's call returns.
    """
    return {
        "protonmsg": {
            "broker": {
                "urls": broker.service_url,
                "topic_prefix": TOPIC_PREFIX,
                "connect_timeout": "10",
                "send_timeout": "10",
            },
            "queue": {"enabled": "false"},
        }
    }


@dataclass(frozen=True)
class Messages:
    """The broker the hub's protonmsg sends to: its URL, and subscriptions to what the hub sends."""

    broker: Broker
    topic_prefix: str = TOPIC_PREFIX

    @property
    def url(self) -> str:
        return self.broker.url

    def subscribe(self) -> KojiMessages:
        """Every message the hub sends from now on (koji_messages makes one per test)."""
        return KojiMessages(self.url, f"{self.topic_prefix}.#")


MESSAGES: Key[Messages] = Key("messages")  # its part's name, typed with this handle (graph.Key)


def connect(context: Context) -> Messages:
    """protonmsg in every hub state from now on, sending to the session's broker."""
    context.get(PYTHON).ensure_extra(servicespy.MESSAGES)  # the plugin imports proton
    broker = context.get(BROKER)
    context.get(HUB).enable_plugin(PLUGIN, protonmsg_config(broker))
    return Messages(broker)


def reconnect(restoring: Restoring, data: dict[str, Any]) -> Messages:
    """The recorded hub already runs protonmsg: it stays in every state (no reload)."""
    broker = restoring.get(BROKER)
    restoring.get(HUB).box_plugins[PLUGIN] = protonmsg_config(broker)
    return Messages(broker)


PART = Part(
    BROKER,
    (),
    start,
    record=lambda broker, recording: box.plain(broker),
    restore=restore,
    urls=lambda broker: {"broker": broker.url},
    health=health,
)
MESSAGES_PART = Part(
    MESSAGES,
    (HUB, BROKER, PYTHON),
    connect,
    record=lambda messages, recording: {},
    restore=reconnect,
)
