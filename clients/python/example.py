#!/usr/bin/env python3
"""Runs `uname -a; id` in a linux sandbox and prints its output as it streams.

    python3 clients/python/example.py [path/to/agentd]

The binary is the argument, else $AGENTD_BIN, else build/src/agentd of this repository.
"""

import asyncio
import os
import sys
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(CLIENT_DIR))
from agentd_client import Agentd  # noqa: E402


def agentd_binary() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.environ.get("AGENTD_BIN") or str(CLIENT_DIR.parents[1] / "build" / "src" / "agentd")


async def main() -> int:
    async with await Agentd.spawn(agentd_binary()) as agentd:
        linux = agentd.backend("linux")
        if not linux or not linux["available"]:
            # No silent fallback to host-direct: say why and stop.
            reason = linux.get("reason") if linux else "not in this build"
            print(f"the linux sandbox is unavailable here: {reason}", file=sys.stderr)
            return 1
        async with await agentd.create_sandbox(isolation="linux") as sandbox:
            ex = await sandbox.start(["sh", "-c", "uname -a; id"])
            async for chunk in ex.output:
                target = sys.stdout if chunk.stream == "stdout" else sys.stderr
                target.write(chunk.text)
                target.flush()
            outcome = await ex.wait()
            print(f"[{ex.id} in {sandbox.id}: {outcome.status}, exit code {outcome.exit_code}]")
            return 0 if outcome.ok else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except FileNotFoundError as error:  # the message names the path and the fix
        print(error, file=sys.stderr)
        sys.exit(1)
