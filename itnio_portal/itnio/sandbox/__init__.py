"""ITNIO-compatible sandbox: a real HTTP server that checks requests like api.itniotech.com."""

from .auth import expected_sign
from .endpoints import ROUTES, SEND_PATHS
from .entities import RequestRecord
from .faults import Faults
from .handler import REJECTED_SUFFIX
from .server import SandboxServer
from .state import ManualClock, SandboxState

__all__ = [
    "REJECTED_SUFFIX",
    "ROUTES",
    "SEND_PATHS",
    "Faults",
    "ManualClock",
    "RequestRecord",
    "SandboxServer",
    "SandboxState",
    "expected_sign",
]
