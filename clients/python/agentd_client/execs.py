"""Started execs: per-exec buffering of exec/output and exec/exit, and the Exec handle.

agentd answers exec/start before it sends the exec's output, but the reader task may already
have taken those notifications off the pipe before the caller's coroutine resumes and learns
the exec id. So every notification is filed under its exec id at once, whether or not an Exec
handle exists yet; the handle later claims what was filed (ExecRegistry.claim).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from .errors import AgentdError, ErrorCode
from .models import ExecExit, OutputChunk, RunResult

if TYPE_CHECKING:
    from .sandbox import Sandbox

# Execs nobody claims (started through Agentd.request directly) must not pile up forever.
MAX_UNCLAIMED_FINISHED = 256

_END = object()  # queue marker: no more output


class ExecEvents:
    """Everything agentd reported about one exec, kept until it is consumed."""

    def __init__(self, exec_id: str):
        self.exec_id = exec_id
        self.chunks: "asyncio.Queue[Any]" = asyncio.Queue()
        self.exit: "asyncio.Future[ExecExit]" = asyncio.get_running_loop().create_future()
        self.claimed = False

    def add_output(self, chunk: OutputChunk) -> None:
        if not self.exit.done():  # nothing about an exec follows its exit (protocol order)
            self.chunks.put_nowait(chunk)

    def finish(self, outcome: ExecExit) -> None:
        if not self.exit.done():
            self.exit.set_result(outcome)
            self.chunks.put_nowait(_END)

    def fail(self, error: BaseException) -> None:
        if not self.exit.done():
            self.exit.set_exception(error)
            self.exit.exception()  # mark retrieved: an exec nobody waits for is no bug
            self.chunks.put_nowait(_END)


class ExecRegistry:
    """Routes exec/output and exec/exit to the ExecEvents of their exec id."""

    def __init__(self) -> None:
        self._events: "OrderedDict[str, ExecEvents]" = OrderedDict()
        self._closed_error: Optional[BaseException] = None

    def claim(self, exec_id: str) -> ExecEvents:
        """The events of exec_id for its Exec handle, including any that arrived early."""
        events = self._events_for(exec_id)
        events.claimed = True
        if events.exit.done():
            self._events.pop(exec_id, None)
        return events

    def on_output(self, params: Dict[str, Any]) -> None:
        self._events_for(params["execId"]).add_output(OutputChunk.from_params(params))

    def on_exit(self, params: Dict[str, Any]) -> None:
        events = self._events_for(params["execId"])
        events.finish(ExecExit.from_params(params))
        if events.claimed:
            self._events.pop(events.exec_id, None)
        else:
            self._evict_unclaimed()

    def close(self, error: BaseException) -> None:
        """The connection is gone: every exec still waiting ends with `error`."""
        self._closed_error = error
        for events in self._events.values():
            events.fail(error)
        self._events.clear()

    def _events_for(self, exec_id: str) -> ExecEvents:
        events = self._events.get(exec_id)
        if events is None:
            events = ExecEvents(exec_id)
            if self._closed_error is not None:
                events.fail(self._closed_error)
            else:
                self._events[exec_id] = events
        return events

    def _evict_unclaimed(self) -> None:
        finished = [i for i, e in self._events.items() if not e.claimed and e.exit.done()]
        for exec_id in finished[: max(0, len(finished) - MAX_UNCLAIMED_FINISHED)]:
            del self._events[exec_id]


class ExecOutput:
    """Async iterator over an exec's output chunks, in arrival order, ending at its exit.

    Chunks are buffered until read; each chunk is delivered once (one consumer).
    """

    def __init__(self, events: ExecEvents):
        self._events = events
        self._ended = False

    def __aiter__(self) -> "ExecOutput":
        return self

    async def __anext__(self) -> OutputChunk:
        if self._ended:
            raise StopAsyncIteration
        item = await self._events.chunks.get()
        if item is _END:
            self._ended = True
            raise StopAsyncIteration
        return item


class Exec:
    """A command started with Sandbox.start; output streams while it runs."""

    def __init__(self, sandbox: "Sandbox", exec_id: str, pid: Optional[int], events: ExecEvents):
        self.sandbox = sandbox
        self.id = exec_id
        self.pid = pid  # None when the set-up failed (wait() then reports setupError)
        self._events = events
        self.output = ExecOutput(events)

    def __repr__(self) -> str:
        return f"Exec(id={self.id!r}, pid={self.pid!r}, sandbox={self.sandbox.id!r})"

    @property
    def done(self) -> bool:
        return self._events.exit.done()

    async def wait(self) -> ExecExit:
        """The exec's outcome (its exec/exit). Output not read stays in `output`."""
        return await asyncio.shield(self._events.exit)

    async def collect(self) -> RunResult:
        """Read the rest of the output and wait for the end: outcome plus stdout and stderr."""
        streams: Dict[str, List[bytes]] = {"stdout": [], "stderr": [], "pty": []}
        replaced = False
        async for chunk in self.output:
            streams.setdefault(chunk.stream, []).append(chunk.data)
            replaced = replaced or chunk.replaced
        outcome = await self.wait()
        stdout = b"".join(streams["stdout"]) + b"".join(streams["pty"])
        outcome_fields = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)}
        return RunResult(**outcome_fields, stdout=stdout, stderr=b"".join(streams["stderr"]),
                         replaced=replaced)

    async def write(self, data: Union[bytes, str], *, eof: bool = False) -> int:
        """Write to stdin (the exec needs stdin="pipe"); eof=True closes stdin afterwards.

        Returns the bytes written. agentd answers once the payload is in the pipe, so this
        waits while the process does not read.
        """
        params: Dict[str, Any] = {"execId": self.id}
        if isinstance(data, str):
            params["text"] = data
        else:
            params["data"] = base64.b64encode(data).decode("ascii")
        if eof:
            params["eof"] = True
        result = await self.sandbox.agentd.request("exec/write", params)
        return result["bytesWritten"]

    async def close_stdin(self) -> None:
        """Close stdin without writing (the process reads EOF)."""
        await self.sandbox.agentd.request("exec/write", {"execId": self.id, "eof": True})

    async def kill(self, signal: Union[str, int] = "SIGKILL") -> Optional[str]:
        """Signal the exec's processes; returns the signal name agentd sent.

        Returns None when the exec had already ended (agentd's -32003 in a race with the
        exit, which the protocol says to treat as "already gone").
        """
        try:
            result = await self.sandbox.agentd.request(
                "exec/kill", {"execId": self.id, "signal": signal})
        except AgentdError as error:
            if error.code == ErrorCode.EXEC_NOT_FOUND:
                return None
            raise
        return result["signal"]

    async def resize(self, cols: int, rows: int) -> None:
        """Set the terminal size of an exec started with pty=..."""
        await self.sandbox.agentd.request(
            "exec/resize", {"execId": self.id, "cols": cols, "rows": rows})
