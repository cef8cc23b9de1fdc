"""Agentd: spawns the agentd process and speaks its protocol.

    async with await Agentd.spawn("build/src/agentd") as agentd:
        async with await agentd.create_sandbox(isolation="linux") as sb:
            print((await sb.run(["uname", "-a"])).stdout_text)
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import __version__
from .connection import Connection, TraceHandler
from .errors import AgentdError, ConnectionClosedError
from .execs import ExecRegistry
from .models import BackendInfo, InitializeResult, Isolation
from .sandbox import Sandbox, wire_params

log = logging.getLogger("agentd_client")

CAPTURE = "capture"  # stderr=CAPTURE: keep the tail of agentd's log (Agentd.stderr_output)
_STDERR_TAIL_BYTES = 64 * 1024
_KILL_GRACE_SECONDS = 2.0


def default_agentd_path() -> str:
    """$AGENTD_BIN, else `agentd` on PATH."""
    from_env = os.environ.get("AGENTD_BIN")
    if from_env:
        return from_env
    return shutil.which("agentd") or "agentd"


class Agentd:
    """A running agentd and its JSON-RPC session. Create with `await Agentd.spawn(...)`."""

    def __init__(self, process: asyncio.subprocess.Process, *, close_timeout: float,
                 trace: Optional[TraceHandler], capture_stderr: bool):
        self.process = process
        self.close_timeout = close_timeout
        self.server: Optional[InitializeResult] = None  # the initialize result
        self._execs = ExecRegistry()
        self._notification_handlers: List[Callable[[str, Any], None]] = []
        self._stderr_tail = bytearray()
        self._stderr_task = None
        if capture_stderr:
            self._stderr_task = asyncio.get_running_loop().create_task(self._drain_stderr())
        self._connection = Connection(process.stdout, process.stdin, self._on_notification,
                                      on_close=self._execs.close, trace=trace)
        self._connection.start()
        self._closed = False

    @classmethod
    async def spawn(cls, path: Optional[str] = None, *, args: Sequence[str] = (),
                    env: Optional[Dict[str, str]] = None, stderr: Any = None,
                    client_name: str = "agentd-client-python", close_timeout: float = 5.0,
                    trace: Optional[TraceHandler] = None) -> "Agentd":
        """Start agentd and complete initialize/initialized.

        path: the agentd binary (default: $AGENTD_BIN, else `agentd` on PATH). stderr: None
        passes agentd's log through to ours; "capture" keeps its last 64 KiB in
        `stderr_output`; anything asyncio accepts (a file, subprocess.DEVNULL) is passed on.
        close_timeout: how long close() waits for agentd to exit before killing it.
        trace(direction, message) sees every message sent and received.
        """
        binary = path or default_agentd_path()
        capture = stderr == CAPTURE
        try:
            process = await asyncio.create_subprocess_exec(
                binary, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE if capture else stderr, env=env)
        except (FileNotFoundError, PermissionError) as error:
            raise FileNotFoundError(
                f"cannot start agentd {binary!r}: {error.strerror}; build it "
                f"(bash scripts/build.sh) or pass its path / set AGENTD_BIN") from None
        agentd = cls(process, close_timeout=close_timeout, trace=trace, capture_stderr=capture)
        try:
            await agentd._initialize(client_name)
        except BaseException:
            await agentd.close()
            raise
        return agentd

    async def __aenter__(self) -> "Agentd":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # --- the session ---------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> Optional[int]:
        return self.process.returncode

    @property
    def stderr_output(self) -> str:
        """The last 64 KiB of agentd's stderr, when spawned with stderr="capture"."""
        return self._stderr_tail.decode("utf-8", errors="replace")

    async def request(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Send any request; returns its result or raises AgentdError / ConnectionClosedError."""
        return await self._connection.request(method, params)

    async def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        await self._connection.notify(method, params)

    def on_notification(self, handler: Callable[[str, Any], None]) -> None:
        """Call handler(method, params) for every notification other than exec/output and
        exec/exit (those go to their Exec)."""
        self._notification_handlers.append(handler)

    def backend(self, isolation: Isolation) -> Optional[BackendInfo]:
        """The initialize entry of a backend ("linux" or "none"), None if this build has none."""
        for backend in (self.server or {}).get("backends", []):
            if backend.get("isolation") == isolation or backend.get("name") == isolation:
                return backend
        return None

    # --- sandboxes -----------------------------------------------------------------------

    async def create_sandbox(self, isolation: Optional[Isolation] = None,
                             **options: Any) -> Sandbox:
        """sandbox/create. isolation: "linux", or "none" for host-direct (never implied).

        Other options are sandbox/create params in snake_case: profile, workdir, keep_workdir,
        read_only_paths, read_write_paths, mounts, network, env, limits, labels, optional,
        from_snapshot. Raises AgentdError (-32004, -32005, ...) when agentd cannot honour them.
        """
        result = await self.request("sandbox/create",
                                    wire_params({"isolation": isolation, **options}))
        return Sandbox(self, result["sandboxId"], result)

    def sandbox(self, sandbox_id: str) -> Sandbox:
        """A handle for an existing sandbox id (no request is sent)."""
        return Sandbox(self, sandbox_id)

    async def list_sandboxes(self, labels: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
        return (await self.request("sandbox/list", wire_params({"labels": labels})))["sandboxes"]

    async def list_execs(self, sandbox_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """Execs that have not reported their exit (exec/list), including running exec/runs."""
        params = wire_params({"sandbox_id": sandbox_id})
        return (await self.request("exec/list", params))["execs"]

    # --- closing -------------------------------------------------------------------------

    async def close(self) -> None:
        """shutdown + exit, then wait for agentd to end; kill it if it does not in time."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._say_goodbye()
            await self._wait_or_kill()
        finally:
            if self.process.returncode is None:  # close() itself was cancelled
                self._kill_quietly()
            await self._connection.close()
            await self._finish_stderr()

    async def _say_goodbye(self) -> None:
        if self.process.returncode is not None or self._connection.closed:
            return
        try:
            await asyncio.wait_for(self.request("shutdown"), self.close_timeout)
            self._connection.notify_nowait("exit")
        except (AgentdError, ConnectionClosedError, ConnectionError, TimeoutError) as error:
            log.debug("agentd did not take shutdown/exit (%s); closing its stdin", error)
        self._connection.close_input()

    async def _wait_or_kill(self) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), self.close_timeout)
            return
        except TimeoutError:
            log.warning("agentd (pid %d) did not exit within %.1f s; sending SIGTERM",
                        self.pid, self.close_timeout)
        try:
            self.process.terminate()
            grace = min(self.close_timeout, _KILL_GRACE_SECONDS)
            await asyncio.wait_for(self.process.wait(), grace)
            return
        except ProcessLookupError:
            return
        except TimeoutError:
            log.warning("agentd (pid %d) ignored SIGTERM; sending SIGKILL", self.pid)
        self._kill_quietly()
        await self.process.wait()

    def _kill_quietly(self) -> None:
        try:
            self.process.kill()
        except ProcessLookupError:
            pass

    # --- internals -----------------------------------------------------------------------

    async def _initialize(self, client_name: str) -> None:
        self.server = await self.request(
            "initialize", {"clientInfo": {"name": client_name, "version": __version__}})
        await self.notify("initialized", {})

    def _on_notification(self, method: str, params: Any) -> None:
        if method == "exec/output":
            self._execs.on_output(params)
        elif method == "exec/exit":
            self._execs.on_exit(params)
        else:
            for handler in self._notification_handlers:
                handler(method, params)

    async def _drain_stderr(self) -> None:
        stream = self.process.stderr
        while True:
            data = await stream.read(64 * 1024)
            if not data:
                return
            self._stderr_tail += data
            del self._stderr_tail[:-_STDERR_TAIL_BYTES]

    async def _finish_stderr(self) -> None:
        if self._stderr_task is None:
            return
        try:
            # A sandbox helper that outlived agentd could hold the pipe open; do not hang.
            await asyncio.wait_for(self._stderr_task, 1.0)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            pass
