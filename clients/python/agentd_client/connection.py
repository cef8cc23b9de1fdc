"""JSON-RPC 2.0 over a pair of asyncio streams with Content-Length framing.

This module knows nothing of sandboxes: it sends requests and notifications, matches responses
to requests by id, and hands every incoming notification to one callback. A single reader task
owns the incoming stream, so messages are handled strictly in the order agentd sent them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, Optional

from .errors import AgentdError, ConnectionClosedError
from .framing import DEFAULT_MAX_BODY_BYTES, FrameDecoder, decode_body, encode_message

log = logging.getLogger("agentd_client")

NotificationHandler = Callable[[str, Any], None]
# trace(direction, message): direction is "send" or "receive"; message is the decoded JSON.
TraceHandler = Callable[[str, Any], None]
CloseHandler = Callable[[BaseException], None]

_READ_CHUNK_BYTES = 64 * 1024


class Connection:
    """One JSON-RPC session over (reader, writer); start() launches the reader task."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_notification: NotificationHandler,
        *,
        on_close: Optional[CloseHandler] = None,
        trace: Optional[TraceHandler] = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ):
        self._reader = reader
        self._writer = writer
        self._on_notification = on_notification
        self._on_close = on_close
        self._trace = trace
        self._decoder = FrameDecoder(max_body_bytes)
        self._next_id = 1
        # Requests sent and not yet answered. A cancelled request stays here until agentd's
        # answer arrives (it always answers), so that answer is recognised and dropped.
        self._pending: Dict[int, asyncio.Future] = {}
        self._methods: Dict[int, str] = {}
        self._closed_error: Optional[BaseException] = None
        self._reader_task: Optional[asyncio.Task] = None

    def start(self) -> None:
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def closed(self) -> bool:
        return self._closed_error is not None

    async def request(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Send a request and return its result; AgentdError when agentd answers an error.

        Cancelling the awaiting task sends `$/cancelRequest` for this id (agentd then stops
        the work where it can, e.g. kills an exec/run) and re-raises CancelledError.
        """
        self._raise_if_closed()
        request_id = self._next_id
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._methods[request_id] = method
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            self._write(message)
            await self._drain()
            return await future
        except asyncio.CancelledError:
            self._cancel_pending(request_id)
            raise
        except BaseException:
            self._forget(request_id)
            raise

    async def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        """Send a notification and wait until it is handed to the pipe."""
        self.notify_nowait(method, params)
        await self._drain()

    def notify_nowait(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        """Queue a notification without waiting (usable where awaiting is not possible)."""
        self._raise_if_closed()
        message: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    async def close(self) -> None:
        """Stop reading and fail every pending request. Does not touch the process."""
        self._shut(ConnectionClosedError("the client closed its connection to agentd"))
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
            try:
                await self._reader_task
            except asyncio.CancelledError:
                pass
        if not self._writer.is_closing():
            self._writer.close()

    def close_input(self) -> None:
        """Close agentd's stdin (agentd treats EOF like `exit`)."""
        if not self._writer.is_closing():
            self._writer.close()

    # --- sending -------------------------------------------------------------------------

    def _write(self, message: Dict[str, Any]) -> None:
        data = encode_message(message)
        self._emit_trace("send", message)
        self._writer.write(data)

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, BrokenPipeError) as error:
            closed = ConnectionClosedError(f"writing to agentd's stdin failed: {error}")
            self._shut(closed)
            raise closed from None

    def _cancel_pending(self, request_id: int) -> None:
        future = self._pending.get(request_id)
        if future is None or self.closed:
            return
        if future.done() and not future.cancelled():
            self._forget(request_id)  # answered in the meantime: nothing left to cancel
            return
        try:
            self.notify_nowait("$/cancelRequest", {"id": request_id})
        except (ConnectionClosedError, ConnectionError) as error:
            log.debug("could not send $/cancelRequest for %s: %s", request_id, error)

    def _forget(self, request_id: int) -> None:
        self._pending.pop(request_id, None)
        self._methods.pop(request_id, None)

    def _raise_if_closed(self) -> None:
        if self._closed_error is not None:
            raise ConnectionClosedError(str(self._closed_error))

    # --- receiving -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(_READ_CHUNK_BYTES)
                if not data:
                    raise ConnectionClosedError(
                        "agentd closed its stdout (it exited or crashed; see its stderr)")
                for body in self._decoder.feed(data):
                    self._dispatch(decode_body(body))
        except asyncio.CancelledError:
            self._shut(ConnectionClosedError("the client closed its connection to agentd"))
            raise
        except ConnectionClosedError as error:
            self._shut(error)
        except Exception as error:  # framing or JSON error: the session cannot continue
            log.error("agentd connection failed: %s", error)
            self._shut(ConnectionClosedError(f"connection to agentd lost: {error}"))

    def _emit_trace(self, direction: str, message: Any) -> None:
        if self._trace is None:
            return
        try:
            self._trace(direction, message)
        except Exception:  # a faulty trace hook must not take the connection down
            log.exception("trace handler failed")

    def _dispatch(self, message: Any) -> None:
        self._emit_trace("receive", message)
        if isinstance(message, list):  # a batch answer; this client never batches
            for item in message:
                self._dispatch_one(item)
        else:
            self._dispatch_one(message)

    def _dispatch_one(self, message: Any) -> None:
        if not isinstance(message, dict):
            log.warning("ignoring a JSON-RPC message that is not an object: %r", message)
        elif "method" in message and "id" not in message:
            self._deliver_notification(message["method"], message.get("params"))
        elif "method" in message:
            log.warning("ignoring request %r from agentd (it sends none)", message["method"])
        else:
            self._deliver_response(message)

    def _deliver_notification(self, method: str, params: Any) -> None:
        try:
            self._on_notification(method, params)
        except Exception:  # a faulty handler must not take the connection down
            log.exception("notification handler failed on %s", method)

    def _deliver_response(self, message: Dict[str, Any]) -> None:
        request_id = message.get("id")
        future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        method = self._methods.pop(request_id, None) if isinstance(request_id, int) else None
        if future is None:
            # id null: agentd could not parse something we sent; no request can be blamed.
            log.warning("response matches no pending request: %r", message)
            return
        if future.done():
            return  # the caller cancelled; agentd's answer (usually -32800) is dropped
        if "error" in message:
            error = message["error"] or {}
            future.set_exception(AgentdError(
                error.get("code", 0), error.get("message", ""), error.get("data"), method))
        else:
            future.set_result(message.get("result"))

    def _shut(self, error: BaseException) -> None:
        """Mark the connection closed once and fail everything that waits on it."""
        if self._closed_error is not None:
            return
        self._closed_error = error
        pending = list(self._pending.values())
        self._pending.clear()
        self._methods.clear()
        for future in pending:
            if not future.done():
                future.set_exception(ConnectionClosedError(str(error)))
        if self._on_close is not None:
            try:
                self._on_close(error)
            except Exception:
                log.exception("close handler failed")
