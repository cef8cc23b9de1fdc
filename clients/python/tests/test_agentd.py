"""The client against the real agentd binary: sandboxes, execs, files, errors, cancellation."""

import asyncio
import re
import unittest

from agentd_client import AgentdError, ErrorCode
from tests.support import PATIENCE_SECONDS, AgentdTestCase, eventually


class InitializeTest(AgentdTestCase):
    async def test_initialize_reports_server_and_content_length_framing(self):
        server = self.agentd.server
        self.assertEqual(server["serverInfo"]["name"], "agentd")
        self.assertRegex(server["protocolVersion"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(server["capabilities"]["framing"], "content-length")
        self.assertIn("linux", [b["isolation"] for b in server["backends"]])
        self.assertEqual(self.sent("initialized"), [{"jsonrpc": "2.0", "method": "initialized",
                                                     "params": {}}])


class ExecTest(AgentdTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.sandbox = await self.linux_sandbox()

    async def test_echo_output_streams_in_order(self):
        script = "for i in 1 2 3 4 5; do echo line$i; sleep 0.01; done; echo oops >&2"
        ex = await self.sandbox.start(["sh", "-c", script])
        self.assertIsInstance(ex.pid, int)
        chunks = await asyncio.wait_for(self._read_all(ex), PATIENCE_SECONDS)
        stdout = [c for c in chunks if c.stream == "stdout"]
        self.assertEqual([c.seq for c in stdout], list(range(len(stdout))))
        self.assertEqual(b"".join(c.data for c in stdout),
                         b"".join(b"line%d\n" % i for i in range(1, 6)))
        self.assertEqual(b"".join(c.data for c in chunks if c.stream == "stderr"), b"oops\n")
        outcome = await ex.wait()
        self.assertEqual((outcome.status, outcome.exit_code, outcome.stdout_bytes),
                         ("exited", 0, 30))
        self.assertTrue(outcome.ok)

    async def _read_all(self, ex):
        return [chunk async for chunk in ex.output]

    async def test_utf8_output_encoding_gives_the_same_bytes(self):
        ex = await self.sandbox.start(["printf", "h\u00e9llo"], encoding="utf8")
        result = await asyncio.wait_for(ex.collect(), PATIENCE_SECONDS)
        self.assertEqual(result.stdout, "h\u00e9llo".encode())

    async def test_stdin_write_and_eof_to_cat(self):
        ex = await self.sandbox.start(["cat"], stdin="pipe")
        self.assertEqual(await ex.write(b"hello\x00\xff\n"), 8)
        self.assertEqual(await ex.write("w\u00f6rld\n", eof=True), 7)
        result = await asyncio.wait_for(ex.collect(), PATIENCE_SECONDS)
        self.assertEqual(result.stdout, b"hello\x00\xff\nw\xc3\xb6rld\n")
        self.assertEqual((result.status, result.exit_code), ("exited", 0))
        with self.assertRaises(AgentdError) as caught:  # stdin is closed, the exec is gone
            await ex.write(b"late")
        self.assertIn(caught.exception.code, (ErrorCode.INVALID_STATE, ErrorCode.EXEC_NOT_FOUND))

    async def test_exit_status_of_run_and_start(self):
        run = await self.sandbox.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        self.assertEqual((run.status, run.exit_code), ("exited", 3))
        self.assertEqual((run.stdout, run.stderr), (b"out\n", b"err\n"))
        self.assertFalse(run.ok)
        ex = await self.sandbox.start(["sh", "-c", "exit 3"])
        outcome = await asyncio.wait_for(ex.wait(), PATIENCE_SECONDS)
        self.assertEqual((outcome.status, outcome.exit_code, outcome.signal), ("exited", 3, None))

    async def test_killed_exec_reports_the_signal(self):
        ex = await self.sandbox.start(["sleep", "30"])
        self.assertEqual(await ex.kill(), "SIGKILL")
        outcome = await asyncio.wait_for(ex.wait(), PATIENCE_SECONDS)
        self.assertEqual((outcome.status, outcome.signal, outcome.signal_name),
                         ("killed", 9, "SIGKILL"))
        self.assertIsNone(outcome.exit_code)
        self.assertIsNone(await ex.kill())  # already gone: -32003 becomes None

    async def test_setup_error_is_an_outcome_not_an_exception(self):
        ex = await self.sandbox.start(["no-such-command-xyz"])
        self.assertIsNone(ex.pid)
        outcome = await asyncio.wait_for(ex.wait(), PATIENCE_SECONDS)
        self.assertEqual(outcome.status, "setupError")
        self.assertIn("no-such-command-xyz", outcome.reason)

    async def test_concurrent_execs_each_get_their_own_output(self):
        async def echo(n):
            ex = await self.sandbox.start(["sh", "-c", f"echo start{n}; echo end{n}"])
            return n, await ex.collect()
        results = await asyncio.wait_for(asyncio.gather(*(echo(n) for n in range(8))),
                                         PATIENCE_SECONDS)
        for n, result in results:
            self.assertEqual(result.stdout, b"start%d\nend%d\n" % (n, n))
            self.assertTrue(result.ok, result)

    async def test_cancelling_a_run_kills_it_and_sends_cancel_request(self):
        run = asyncio.ensure_future(self.sandbox.run(["sleep", "30"]))

        async def run_is_running():
            return len(await self.agentd.list_execs(self.sandbox.id)) == 1
        await eventually(run_is_running, "the exec/run to appear in exec/list")
        run.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await run
        run_id = self.sent("exec/run")[0]["id"]
        self.assertEqual(self.sent("$/cancelRequest")[0]["params"], {"id": run_id})

        async def cancelled_answer_arrived():
            return any(d == "receive" and isinstance(m, dict) and m.get("id") == run_id and
                       m.get("error", {}).get("code") == ErrorCode.REQUEST_CANCELLED
                       for d, m in self.trace)
        await eventually(cancelled_answer_arrived, "agentd's -32800 answer to the exec/run")
        self.assertEqual(await self.agentd.list_execs(self.sandbox.id), [])
        self.assertTrue((await self.sandbox.run(["true"])).ok)  # the session goes on


class FilesTest(AgentdTestCase):
    async def test_write_read_list_round_trip(self):
        sandbox = await self.linux_sandbox()
        data = bytes(range(256)) * 64
        self.assertEqual(await sandbox.write_file("d/blob.bin", data, create_parents=True),
                         len(data))
        self.assertEqual(await sandbox.write_file("d/note.txt", "h\u00e9\n"), 4)
        self.assertEqual(await sandbox.read_file("d/blob.bin"), data)
        self.assertEqual(await sandbox.read_file("d/blob.bin", offset=10, length=5), data[10:15])
        self.assertEqual(await sandbox.read_text("/workspace/d/note.txt"), "h\u00e9\n")
        entries = {e["name"]: e for e in await sandbox.list_dir("d")}
        self.assertEqual(sorted(entries), ["blob.bin", "note.txt"])
        self.assertEqual((entries["blob.bin"]["type"], entries["blob.bin"]["size"]),
                         ("file", len(data)))
        # What the file API wrote is what a process in the sandbox sees.
        seen = await sandbox.run(["cat", "/workspace/d/blob.bin"])
        self.assertEqual(seen.stdout, data)

    async def test_missing_file_raises_with_errno(self):
        sandbox = await self.linux_sandbox()
        with self.assertRaises(AgentdError) as caught:
            await sandbox.read_file("nope")
        self.assertEqual(caught.exception.code, ErrorCode.OPERATION_FAILED)
        self.assertEqual(caught.exception.data.get("errno"), "ENOENT")


class ErrorTest(AgentdTestCase):
    async def test_unknown_sandbox_raises_agentd_error_with_code(self):
        ghost = self.agentd.sandbox("sb-does-not-exist")
        with self.assertRaises(AgentdError) as caught:
            await ghost.run(["true"])
        error = caught.exception
        self.assertEqual(error.code, -32001)
        self.assertEqual(error.code, ErrorCode.SANDBOX_NOT_FOUND)
        self.assertEqual(error.data, {"sandboxId": "sb-does-not-exist"})
        self.assertEqual(error.method, "exec/run")
        self.assertIn("sb-does-not-exist", str(error))

    async def test_unknown_option_is_named_by_invalid_params(self):
        with self.assertRaises(AgentdError) as caught:
            await self.agentd.create_sandbox(isolation="linux", no_such_option=1)
        self.assertEqual(caught.exception.code, ErrorCode.INVALID_PARAMS)
        self.assertTrue(re.search("noSuchOption", caught.exception.message),
                        caught.exception.message)

    async def test_destroyed_sandbox_is_gone(self):
        sandbox = await self.linux_sandbox()
        self.assertEqual((await sandbox.destroy())["sandboxId"], sandbox.id)
        with self.assertRaises(AgentdError) as caught:
            await sandbox.info()
        self.assertEqual(caught.exception.code, ErrorCode.SANDBOX_NOT_FOUND)


if __name__ == "__main__":
    unittest.main()
