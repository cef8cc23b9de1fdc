"""Exceptions raised by the agentd client.

Three kinds of failure are kept apart, because a caller reacts to each differently:
agentd refused a request (AgentdError: the request was understood and answered with an error),
the connection to agentd is gone (ConnectionClosedError: every pending and later request fails),
and agentd sent something that is not the protocol (ProtocolError: the session cannot go on).
"""

from __future__ import annotations

import enum
from typing import Any, Optional


class ErrorCode(enum.IntEnum):
    """The error codes of schema/agentd.schema.json (x-errors)."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    SERVER_NOT_INITIALIZED = -32002
    REQUEST_CANCELLED = -32800
    REQUEST_FAILED = -32803
    SANDBOX_NOT_FOUND = -32001
    EXEC_NOT_FOUND = -32003
    ISOLATION_UNAVAILABLE = -32004
    FEATURE_UNAVAILABLE = -32005
    INVALID_STATE = -32006
    RESOURCE_EXHAUSTED = -32007
    OPERATION_FAILED = -32008


class AgentdError(Exception):
    """agentd answered a request with a JSON-RPC error.

    `code` is the JSON-RPC code (compare with ErrorCode), `message` agentd's text (it names the
    parameter at fault and the fix), `data` the optional details object (sandboxId, execId,
    feature, field, fix, reason, ...), `method` the request that failed.
    """

    def __init__(self, code: int, message: str, data: Any = None, method: Optional[str] = None):
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        super().__init__(self._describe())

    def _describe(self) -> str:
        try:
            name = ErrorCode(self.code).name
        except ValueError:
            name = "error"
        where = f"{self.method}: " if self.method else ""
        return f"{where}{self.message} ({name} {self.code})"


class ConnectionClosedError(Exception):
    """The connection to agentd is closed: agentd exited, crashed, or the client was closed."""


class ProtocolError(Exception):
    """agentd sent bytes that are not valid framed JSON-RPC; the session cannot continue."""


class FramingError(ProtocolError):
    """A Content-Length frame is malformed (bad or missing header, oversized message)."""
