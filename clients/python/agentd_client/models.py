"""Typed shapes of agentd's params and results (field names as in schema/agentd.schema.json).

Results that a caller mostly passes around stay plain dicts, typed as TypedDicts. What a caller
inspects field by field (exec outcomes, output chunks) becomes a dataclass with Python names
and the bytes already decoded.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, TypedDict

from .errors import ProtocolError

Isolation = Literal["none", "linux"]
OutputEncoding = Literal["base64", "utf8"]
ExecStatus = Literal[
    "exited", "signaled", "timeout", "killed", "outputLimit", "memoryLimit", "setupError"]


class Limits(TypedDict, total=False):
    memoryBytes: int
    maxProcesses: int
    cpuTimeMs: int
    wallTimeMs: int
    maxOutputBytes: int
    maxOpenFiles: int
    maxFileSizeBytes: int
    cpuMillicores: int


class FeatureState(TypedDict, total=False):
    state: str  # enforced, available, unavailable, notRequested
    mechanism: str
    reason: str


class BackendInfo(TypedDict, total=False):
    name: str
    isolation: Isolation
    available: bool
    reason: str
    features: Dict[str, FeatureState]


class ServerCapabilities(TypedDict):
    framing: str
    maxMessageBytes: int
    encodings: List[str]
    cancellation: str


class InitializeResult(TypedDict):
    serverInfo: Dict[str, str]
    protocolVersion: str
    capabilities: ServerCapabilities
    backends: List[BackendInfo]
    defaultLimits: Limits
    profiles: List[str]


class SandboxCreateResult(TypedDict):
    sandboxId: str
    isolation: Isolation
    workdir: str
    network: str
    limits: Limits
    capabilities: Dict[str, FeatureState]


class SandboxDestroyResult(TypedDict):
    sandboxId: str
    workdirRemoved: bool


class FileEntry(TypedDict):
    name: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int
    mode: int
    mtimeMs: int


class FsStatResult(FileEntry):
    path: str


class Usage(TypedDict):
    cpuTimeMs: int
    userTimeMs: int
    systemTimeMs: int
    peakMemoryBytes: int


def decode_data(data: str, encoding: str) -> bytes:
    """The bytes behind an `encoding`-encoded `data` string (exec/output, exec/run, fs/read)."""
    if encoding == "utf8":
        return data.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise ProtocolError(f"agentd sent invalid base64 ({error})") from None
    raise ProtocolError(f"agentd sent data in unknown encoding {encoding!r}")


@dataclass(frozen=True)
class OutputChunk:
    """One exec/output notification: `data` is the raw bytes whatever the wire encoding."""

    exec_id: str
    stream: str  # "stdout" or "stderr" ("pty" for a pty exec)
    seq: int  # 0, 1, 2, ... per exec and stream, without gaps
    data: bytes
    replaced: bool = False  # utf8 encoding: invalid bytes were replaced by U+FFFD

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> "OutputChunk":
        return cls(
            exec_id=params["execId"],
            stream=params["stream"],
            seq=params["seq"],
            data=decode_data(params["data"], params["encoding"]),
            replaced=bool(params.get("replaced", False)),
        )


@dataclass(frozen=True)
class ExecExit:
    """How an exec ended (exec/exit params; also the core of an exec/run result)."""

    exec_id: str
    sandbox_id: str
    status: ExecStatus
    duration_ms: int
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    signal_name: Optional[str] = None
    reason: Optional[str] = None
    usage: Optional[Usage] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the command exited by itself with status 0."""
        return self.status == "exited" and self.exit_code == 0

    @staticmethod
    def _fields_from(params: Dict[str, Any]) -> Dict[str, Any]:
        return dict(
            exec_id=params["execId"],
            sandbox_id=params["sandboxId"],
            status=params["status"],
            duration_ms=params["durationMs"],
            stdout_bytes=params["stdoutBytes"],
            stderr_bytes=params["stderrBytes"],
            truncated=params["truncated"],
            exit_code=params.get("exitCode"),
            signal=params.get("signal"),
            signal_name=params.get("signalName"),
            reason=params.get("reason"),
            usage=params.get("usage"),
            raw=params,
        )

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> "ExecExit":
        return cls(**cls._fields_from(params))


@dataclass(frozen=True)
class RunResult(ExecExit):
    """An exec/run result, or a started exec collected to its end: outcome plus all output."""

    stdout: bytes = b""
    stderr: bytes = b""
    replaced: bool = False

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    @classmethod
    def from_result(cls, result: Dict[str, Any]) -> "RunResult":
        encoding = result["encoding"]
        return cls(
            **cls._fields_from(result),
            stdout=decode_data(result["stdout"], encoding),
            stderr=decode_data(result["stderr"], encoding),
            replaced=bool(result.get("replaced", False)),
        )
