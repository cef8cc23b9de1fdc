"""Python client for agentd (standard library only): spawn agentd, create sandboxes, run
commands with streamed output, read and write their files.

    async with await Agentd.spawn(path) as agentd:
        sb = await agentd.create_sandbox(isolation="linux")
        ex = await sb.start(["sh", "-c", "echo hi"])
        async for chunk in ex.output:
            print(chunk.stream, chunk.text)
        print(await ex.wait())
"""

__version__ = "0.1.0"

from .client import CAPTURE, Agentd, default_agentd_path  # noqa: E402
from .connection import Connection  # noqa: E402
from .errors import (AgentdError, ConnectionClosedError, ErrorCode, FramingError,  # noqa: E402
                     ProtocolError)
from .execs import Exec, ExecOutput  # noqa: E402
from .framing import FrameDecoder, decode_body, encode_message  # noqa: E402
from .models import ExecExit, OutputChunk, RunResult  # noqa: E402
from .sandbox import Sandbox  # noqa: E402

__all__ = [
    "Agentd", "AgentdError", "CAPTURE", "Connection", "ConnectionClosedError", "ErrorCode",
    "Exec", "ExecExit", "ExecOutput", "FrameDecoder", "FramingError", "OutputChunk",
    "ProtocolError", "RunResult", "Sandbox", "decode_body", "default_agentd_path",
    "encode_message",
]
