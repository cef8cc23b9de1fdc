"""Closing the client: shutdown/exit, no process left behind, and killing a server that
does not exit by itself."""

import asyncio
import os
import signal
import sys
import unittest
import uuid
from pathlib import Path

from agentd_client import CAPTURE, Agentd, ConnectionClosedError
from tests.support import PATIENCE_SECONDS, AgentdTestCase, eventually

STUB = Path(__file__).resolve().parent / "fixtures" / "stubborn_agentd.py"


def processes_with(marker: str):
    """Pids whose command line contains marker (zombies have none, so they do not count)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class CloseTest(AgentdTestCase):
    async def test_context_exit_shuts_down_and_leaves_no_process(self):
        marker = f"agentd-client-test-{uuid.uuid4().hex}"
        async with await self.spawn() as agentd:
            sandbox = await self.linux_sandbox(agentd)
            ex = await sandbox.start(["sh", "-c", f"sleep 30; echo {marker}"])
            pid = agentd.pid

            async def command_is_running():
                return bool(processes_with(marker))
            await eventually(command_is_running, "the sandboxed command to show in /proc")
        self.assertEqual(agentd.returncode, 0)  # exit after shutdown: status 0
        self.assertFalse(process_exists(pid), f"agentd pid {pid} still exists")
        self.assertEqual(len(self.sent("shutdown")), 1)
        self.assertEqual(len(self.sent("exit")), 1)

        async def command_is_gone():
            return not processes_with(marker)
        await eventually(command_is_gone, f"the processes of {marker} to end")
        with self.assertRaises(ConnectionClosedError):
            await ex.wait()  # agentd sends no exec/exit for execs killed at its exit
        with self.assertRaises(ConnectionClosedError):
            await agentd.list_sandboxes()

    async def test_agentd_dying_fails_pending_requests(self):
        agentd = await self.spawn()
        sandbox = await self.linux_sandbox(agentd)
        run = asyncio.ensure_future(sandbox.run(["sleep", "30"]))
        ex = await sandbox.start(["sleep", "30"])
        agentd.process.kill()
        with self.assertRaises(ConnectionClosedError):
            await asyncio.wait_for(run, PATIENCE_SECONDS)
        with self.assertRaises(ConnectionClosedError):
            await asyncio.wait_for(ex.wait(), PATIENCE_SECONDS)
        await agentd.close()
        self.assertEqual(agentd.returncode, -signal.SIGKILL)


class StubbornServerTest(unittest.IsolatedAsyncioTestCase):
    async def test_close_kills_a_server_that_does_not_exit(self):
        agentd = await Agentd.spawn(sys.executable, args=[str(STUB)], stderr=CAPTURE,
                                    close_timeout=0.3)
        self.assertEqual(agentd.server["serverInfo"]["version"], "stub")
        with self.assertLogs("agentd_client", "WARNING") as logs:
            await asyncio.wait_for(agentd.close(), PATIENCE_SECONDS)
        self.assertEqual(agentd.returncode, -signal.SIGKILL)
        self.assertFalse(process_exists(agentd.pid))
        self.assertTrue(any("ignored SIGTERM" in line for line in logs.output), logs.output)
        self.assertIn("staying alive", agentd.stderr_output)

    async def test_missing_binary_names_the_path_and_the_fix(self):
        with self.assertRaisesRegex(FileNotFoundError, "/no/such/agentd.*AGENTD_BIN"):
            await Agentd.spawn("/no/such/agentd")


if __name__ == "__main__":
    unittest.main()
