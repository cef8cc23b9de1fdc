"""The Sandbox handle: execs and files of one sandbox."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from .errors import AgentdError, ConnectionClosedError, ErrorCode
from .execs import Exec
from .models import (FileEntry, FsStatResult, OutputEncoding, RunResult, SandboxCreateResult,
                     SandboxDestroyResult, decode_data)

if TYPE_CHECKING:
    from .client import Agentd


def wire_params(options: Dict[str, Any]) -> Dict[str, Any]:
    """Python keyword arguments as wire params: snake_case names become camelCase
    (timeout_ms -> timeoutMs) and None means "not given". Values are passed unchanged, so
    dicts such as env, limits and labels keep their keys as written."""
    params = {}
    for name, value in options.items():
        if value is None:
            continue
        head, *rest = name.split("_")
        params[head + "".join(part[:1].upper() + part[1:] for part in rest)] = value
    return params


class Sandbox:
    """A sandbox of one agentd. Use `async with` to destroy it at the end of a block."""

    def __init__(self, agentd: "Agentd", sandbox_id: str,
                 created: Optional[SandboxCreateResult] = None):
        self.agentd = agentd
        self.id = sandbox_id
        # The sandbox/create result (isolation, workdir, network, limits, capabilities);
        # None for a handle made from a bare id (Agentd.sandbox).
        self.created = created

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r})"

    async def __aenter__(self) -> "Sandbox":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self.destroy()
        except ConnectionClosedError:
            pass  # agentd is gone, and it removes its sandboxes when it goes
        except AgentdError as error:
            if error.code != ErrorCode.SANDBOX_NOT_FOUND:  # already destroyed is fine
                raise

    @property
    def capabilities(self) -> Dict[str, Any]:
        return dict(self.created["capabilities"]) if self.created else {}

    # --- execs ---------------------------------------------------------------------------

    async def start(self, argv: Sequence[str], *, stdin: str = "null",
                    encoding: OutputEncoding = "base64", **options: Any) -> Exec:
        """Start a command (exec/start); its output streams into the returned Exec.

        stdin="pipe" lets you feed it with Exec.write. Other options are exec/start params in
        snake_case: cwd, env, inherit_env, limits, timeout_ms, max_output_bytes, pty.
        """
        params = wire_params({"sandbox_id": self.id, "argv": list(argv), "stdin": stdin,
                              "encoding": encoding, **options})
        result = await self.agentd.request("exec/start", params)
        events = self.agentd._execs.claim(result["execId"])
        return Exec(self, result["execId"], result["pid"], events)

    async def run(self, argv: Sequence[str], *, encoding: OutputEncoding = "base64",
                  **options: Any) -> RunResult:
        """Run a command to completion (exec/run) and return its outcome and output.

        Cancelling the awaiting task cancels the run: agentd kills the command.
        Options as for start(), except stdin (always /dev/null).
        """
        params = wire_params({"sandbox_id": self.id, "argv": list(argv), "encoding": encoding,
                              **options})
        return RunResult.from_result(await self.agentd.request("exec/run", params))

    # --- files ---------------------------------------------------------------------------

    async def read_file(self, path: str, *, offset: int = 0,
                        length: Optional[int] = None) -> bytes:
        """The bytes of a file (fs/read), whole or `length` bytes from `offset`.

        Without `length` the file is read to its end, in as many calls as needed (agentd
        moves at most 16 MiB per call).
        """
        pieces: List[bytes] = []
        position = offset
        while True:
            params = wire_params({"sandbox_id": self.id, "path": path, "offset": position,
                                  "length": length})
            result = await self.agentd.request("fs/read", params)
            piece = decode_data(result["data"], result["encoding"])
            pieces.append(piece)
            position += len(piece)
            if result["eof"] or length is not None or not piece:
                return b"".join(pieces)

    async def read_text(self, path: str) -> str:
        return (await self.read_file(path)).decode("utf-8", errors="replace")

    async def write_file(self, path: str, data: Union[bytes, str], *, mode: Optional[str] = None,
                         create_parents: Optional[bool] = None,
                         permissions: Optional[int] = None) -> int:
        """Write a file (fs/write) from bytes or text; returns the bytes written.

        mode: "overwrite" (default, atomic), "create" (fail if it exists) or "append".
        At most 16 MiB per call: write larger files in pieces with mode="append".
        """
        payload = {"text": data} if isinstance(data, str) else {
            "data": base64.b64encode(data).decode("ascii")}
        params = wire_params({"sandbox_id": self.id, "path": path, "mode": mode,
                              "create_parents": create_parents, "permissions": permissions,
                              **payload})
        return (await self.agentd.request("fs/write", params))["bytesWritten"]

    async def list_dir(self, path: Optional[str] = None) -> List[FileEntry]:
        """Entries of a directory (fs/list; default the workdir), sorted by name."""
        params = wire_params({"sandbox_id": self.id, "path": path})
        return (await self.agentd.request("fs/list", params))["entries"]

    async def stat(self, path: str) -> FsStatResult:
        return await self.agentd.request("fs/stat", {"sandboxId": self.id, "path": path})

    async def mkdir(self, path: str, *, parents: bool = False) -> None:
        await self.agentd.request("fs/mkdir", {"sandboxId": self.id, "path": path,
                                               "parents": parents})

    async def remove(self, path: str, *, recursive: bool = False) -> None:
        await self.agentd.request("fs/remove", {"sandboxId": self.id, "path": path,
                                                "recursive": recursive})

    async def move(self, source: str, target: str, *, overwrite: bool = False) -> None:
        await self.agentd.request("fs/move", {"sandboxId": self.id, "from": source,
                                              "to": target, "overwrite": overwrite})

    # --- lifecycle -----------------------------------------------------------------------

    async def info(self) -> Dict[str, Any]:
        """sandbox/info: state, limits, capabilities, running execs, usage."""
        return await self.agentd.request("sandbox/info", {"sandboxId": self.id})

    async def destroy(self, *, keep_workdir: Optional[bool] = None) -> SandboxDestroyResult:
        """Kill the sandbox's execs and remove it (sandbox/destroy)."""
        params = wire_params({"sandbox_id": self.id, "keep_workdir": keep_workdir})
        return await self.agentd.request("sandbox/destroy", params)
