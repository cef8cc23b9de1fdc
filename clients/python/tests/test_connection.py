"""Connection and exec buffering against in-memory streams (no agentd process)."""

import asyncio
import base64
import unittest

from agentd_client import AgentdError, Connection, ConnectionClosedError, FrameDecoder
from agentd_client import decode_body, encode_message
from agentd_client.execs import ExecOutput, ExecRegistry


class FakeWriter:
    """The StreamWriter calls Connection makes; records what was sent."""

    def __init__(self):
        self.decoder = FrameDecoder()
        self.sent = []
        self.closing = False

    def write(self, data):
        self.sent += [decode_body(body) for body in self.decoder.feed(data)]

    async def drain(self):
        pass

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True


def output_params(exec_id, seq, text):
    return {"execId": exec_id, "stream": "stdout", "seq": seq, "encoding": "base64",
            "data": base64.b64encode(text.encode()).decode()}


def exit_params(exec_id, code):
    return {"execId": exec_id, "sandboxId": "sb-1", "status": "exited", "exitCode": code,
            "durationMs": 1, "stdoutBytes": 2, "stderrBytes": 0, "truncated": False}


class ConnectionTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.reader = asyncio.StreamReader()
        self.writer = FakeWriter()
        self.notifications = []
        self.connection = Connection(self.reader, self.writer,
                                     lambda m, p: self.notifications.append((m, p)))
        self.connection.start()

    async def asyncTearDown(self):
        await self.connection.close()

    async def test_responses_in_any_order_reach_their_requests(self):
        first = asyncio.ensure_future(self.connection.request("a", {"x": 1}))
        second = asyncio.ensure_future(self.connection.request("b"))
        await asyncio.sleep(0)
        ids = [m["id"] for m in self.writer.sent]
        self.reader.feed_data(
            encode_message({"jsonrpc": "2.0", "method": "note", "params": {"n": 1}}) +
            encode_message({"jsonrpc": "2.0", "id": ids[1], "result": "B"}) +
            encode_message({"jsonrpc": "2.0", "id": ids[0],
                            "error": {"code": -32001, "message": "gone", "data": {"k": 1}}}))
        self.assertEqual(await second, "B")
        with self.assertRaises(AgentdError) as caught:
            await first
        self.assertEqual((caught.exception.code, caught.exception.data), (-32001, {"k": 1}))
        self.assertEqual(caught.exception.method, "a")
        self.assertEqual(self.notifications, [("note", {"n": 1})])

    async def test_cancelling_sends_cancel_request_and_drops_the_late_answer(self):
        task = asyncio.ensure_future(self.connection.request("exec/run"))
        await asyncio.sleep(0)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        request_id = self.writer.sent[0]["id"]
        self.assertEqual(self.writer.sent[1], {"jsonrpc": "2.0", "method": "$/cancelRequest",
                                               "params": {"id": request_id}})
        self.reader.feed_data(encode_message(
            {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32800, "message": "c"}}))
        follow_up = asyncio.ensure_future(self.connection.request("ping"))
        await asyncio.sleep(0)
        self.reader.feed_data(encode_message(
            {"jsonrpc": "2.0", "id": self.writer.sent[-1]["id"], "result": None}))
        self.assertIsNone(await follow_up)
        # The late -32800 was recognised and consumed, not left pending or misrouted.
        self.assertEqual(self.connection._pending, {})

    async def test_eof_fails_pending_and_later_requests(self):
        pending = asyncio.ensure_future(self.connection.request("a"))
        await asyncio.sleep(0)
        self.reader.feed_eof()
        with self.assertRaisesRegex(ConnectionClosedError, "closed its stdout"):
            await pending
        with self.assertRaises(ConnectionClosedError):
            await self.connection.request("b")

    async def test_broken_framing_closes_the_connection(self):
        pending = asyncio.ensure_future(self.connection.request("a"))
        await asyncio.sleep(0)
        self.reader.feed_data(b"Content-Length: x\r\n\r\n")
        with self.assertRaisesRegex(ConnectionClosedError, "non-negative integer"):
            await pending


class ExecRegistryTest(unittest.IsolatedAsyncioTestCase):
    async def test_output_and_exit_before_the_exec_is_claimed_are_kept(self):
        registry = ExecRegistry()
        registry.on_output(output_params("ex-1", 0, "a\n"))
        registry.on_output(output_params("ex-2", 0, "other\n"))
        registry.on_output(output_params("ex-1", 1, "b\n"))
        registry.on_exit(exit_params("ex-1", 4))
        events = registry.claim("ex-1")
        chunks = [chunk async for chunk in ExecOutput(events)]
        self.assertEqual([(c.seq, c.data) for c in chunks], [(0, b"a\n"), (1, b"b\n")])
        self.assertEqual((await events.exit).exit_code, 4)

    async def test_claimed_exec_streams_then_ends(self):
        registry = ExecRegistry()
        output = ExecOutput(registry.claim("ex-1"))
        registry.on_output(output_params("ex-1", 0, "x"))
        self.assertEqual((await output.__anext__()).text, "x")
        registry.on_exit(exit_params("ex-1", 0))
        with self.assertRaises(StopAsyncIteration):
            await output.__anext__()

    async def test_closed_connection_ends_waiting_execs(self):
        registry = ExecRegistry()
        events = registry.claim("ex-1")
        registry.close(ConnectionClosedError("gone"))
        self.assertEqual([c async for c in ExecOutput(events)], [])
        with self.assertRaises(ConnectionClosedError):
            await events.exit


if __name__ == "__main__":
    unittest.main()
