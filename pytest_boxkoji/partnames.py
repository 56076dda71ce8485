"""Every part's name, typed with its handle: `graph.get(HUB)` is a `Hub`, with no cast.

The parts themselves live in their modules (services/, parts.py) and import each other's names
from here, not each other: a part's module never imports the module of a part it requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_boxkoji.graph import Key

if TYPE_CHECKING:
    from pytest_boxkoji.coverage.data import KojiCoverage
    from pytest_boxkoji.kojisrc import KojiSource
    from pytest_boxkoji.orch import Credential, Orch
    from pytest_boxkoji.services.broker import Broker, Messages
    from pytest_boxkoji.services.hub import Hub
    from pytest_boxkoji.services.kdc import Realm
    from pytest_boxkoji.services.postgres import Cluster
    from pytest_boxkoji.services.proxy import Proxy
    from pytest_boxkoji.services.web import WebConfig
    from pytest_boxkoji.servicespy import ServicesPython

SOURCE: Key[KojiSource] = Key("source")
PYTHON: Key[ServicesPython] = Key("python")
COVERAGE: Key[KojiCoverage | None] = Key("coverage")
KDC: Key[Realm] = Key("kdc")
ORCH: Key[Orch] = Key("orch")
POSTGRES: Key[Cluster] = Key("postgres")
HUB_CREDENTIALS: Key[tuple[Credential, Credential]] = Key("hub-credentials")
HUB: Key[Hub] = Key("hub")
WEB: Key[WebConfig] = Key("web")
PROXY: Key[Proxy] = Key("proxy")
BROKER: Key[Broker] = Key("broker")
MESSAGES: Key[Messages] = Key("messages")
