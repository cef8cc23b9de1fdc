"""Shared helpers: where the agentd binary is, and a test case that spawns one per test."""

from __future__ import annotations

import asyncio
import os
import unittest
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Optional, Tuple

from agentd_client import CAPTURE, Agentd, Sandbox

REPO_ROOT = Path(__file__).resolve().parents[3]
# Generous: only a guard against hangs, never a speed assertion (the machine is shared).
PATIENCE_SECONDS = 20.0


def agentd_path() -> Path:
    """$AGENTD_BIN (as run-tests.sh sets it), else build/src/agentd of this repository."""
    return Path(os.environ.get("AGENTD_BIN") or REPO_ROOT / "build" / "src" / "agentd")


def agentd_missing_reason() -> Optional[str]:
    path = agentd_path()
    if not os.access(path, os.X_OK):
        return f"agentd binary not found at {path} (build it, or set AGENTD_BIN)"
    return None


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it is true; fail (naming `what`) after PATIENCE_SECONDS."""
    deadline = asyncio.get_running_loop().time() + PATIENCE_SECONDS
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class AgentdTestCase(unittest.IsolatedAsyncioTestCase):
    """Spawns a real agentd per test (stderr captured, every message traced)."""

    async def asyncSetUp(self) -> None:
        reason = agentd_missing_reason()
        if reason:
            self.skipTest(reason)
        self.trace: List[Tuple[str, Any]] = []
        self.agentd = await self.spawn()

    async def asyncTearDown(self) -> None:
        await self.agentd.close()

    async def spawn(self, **options: Any) -> Agentd:
        options.setdefault("stderr", CAPTURE)
        options.setdefault("trace", lambda direction, message: self.trace.append(
            (direction, message)))
        return await asyncio.wait_for(Agentd.spawn(str(agentd_path()), **options),
                                      PATIENCE_SECONDS)

    def require_linux(self, agentd: Optional[Agentd] = None) -> None:
        backend = (agentd or self.agentd).backend("linux")
        if backend is None:
            self.skipTest("this agentd build has no linux backend")
        if not backend["available"]:
            self.skipTest(f"linux backend unavailable here: {backend.get('reason')}")

    async def linux_sandbox(self, agentd: Optional[Agentd] = None) -> Sandbox:
        self.require_linux(agentd)
        return await (agentd or self.agentd).create_sandbox(isolation="linux")

    def sent(self, method: str) -> List[Any]:
        return [m for d, m in self.trace if d == "send" and m.get("method") == method]
