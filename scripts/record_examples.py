#!/usr/bin/env python3
"""Re-records the example exchanges in schema/examples/ from a real agentd (stdlib only).

Each example file is a scenario: the client's messages ("send" steps) are replayed to a fresh
agentd over line framing and every "receive" step is replaced by what agentd really answered,
in the order it arrived. Values that change from run to run and carry no meaning (host pids,
the random suffix of workdirs, timestamps, mtimes) are rewritten to stable values so that a
re-recording only shows real changes. Durations and usage figures are kept as measured.

  python3 scripts/record_examples.py [--agentd build/src/agentd] [schema/examples/x.json ...]

Scenario keys besides "method", "title", "description" and "transcript":
  "setup":    requests sent (and answered) before the transcript; not shown. initialize is
              sent first automatically unless the transcript starts with it.
  "settleFor": method names of notifications to wait for after the last step (default: one
              exec/exit per exec the transcript started with exec/start).
Step keys: "noWait": true sends a request without waiting for its answer; "waitFor":
{"method": m, "count": n} waits, before sending, until n notifications m have arrived in total;
"pauseMs": n sleeps n ms before sending (to let time pass, e.g. in a suspended sandbox).
Then run: python3 scripts/gen_protocol_doc.py
"""
import argparse
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "schema" / "examples"
WAIT_S = 10.0
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"clientInfo": {"name": "record_examples", "version": "1"}}}


class Session:
    """One agentd child over line framing; every message is logged in arrival order."""

    def __init__(self, binary):
        # No user config file (profiles would differ) and the default workdir root.
        self.config_home = tempfile.TemporaryDirectory(prefix="agentd-examples-")
        env = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
        env["XDG_CONFIG_HOME"] = self.config_home.name
        self.proc = subprocess.Popen([binary, "--log-level", "error"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.log, self.lock, self.arrived = [], threading.Lock(), queue.Queue()
        self.recording = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                message = json.loads(line)
                with self.lock:
                    self.log.append((self.recording, {"receive": message}))
                self.arrived.put(message)

    def send(self, message):
        with self.lock:
            self.log.append((self.recording, {"send": message}))
        self.proc.stdin.write((json.dumps(message, ensure_ascii=False) + "\n").encode())
        self.proc.stdin.flush()

    def received(self):
        with self.lock:
            return [step["receive"] for _, step in self.log if "receive" in step]

    def wait_until(self, predicate, what):
        deadline = time.monotonic() + WAIT_S
        while not predicate(self.received()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up after {WAIT_S:.0f} s waiting for {what}")
            try:
                self.arrived.get(timeout=0.05)
            except queue.Empty:
                pass

    def request(self, message, wait=True):
        self.send(message)
        if wait and "id" in message:
            self.wait_until(lambda got: any(answers(m, message["id"]) for m in got),
                            f"the answer to {message['method']} (id {message['id']})")

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.config_home.cleanup()


def answers(message, request_id):
    batch = message if isinstance(message, list) else [message]
    return any(isinstance(m, dict) and "method" not in m and m.get("id") == request_id for m in batch)


def count_method(messages, method):
    return sum(1 for m in messages if isinstance(m, dict) and m.get("method") == method)


def started_execs(messages):
    return [m["result"]["execId"] for m in messages
            if isinstance(m, dict) and isinstance(m.get("result"), dict)
            and "execId" in m["result"] and "pid" in m["result"]]


def record(binary, scenario):
    sends = [step for step in scenario["transcript"] if "send" in step]
    session = Session(binary)
    try:
        if sends[0]["send"].get("method") != "initialize":
            session.request(INIT)
        for message in scenario.get("setup", []):
            session.request(message)
        session.recording = True
        for step in sends:
            if "waitFor" in step:
                want = step["waitFor"]
                session.wait_until(lambda got: count_method(got, want["method"]) >= want.get("count", 1),
                                   f"{want.get('count', 1)} x {want['method']}")
            time.sleep(step.get("pauseMs", 0) / 1000)
            session.request(step["send"], wait=not step.get("noWait"))
        settle(session, scenario, sends)
        session.recording = False
    finally:
        session.close()
    with session.lock:
        shown = [step for recording, step in session.log if recording]
    keep_step_options(shown, sends)
    return normalize(shown)


def settle(session, scenario, sends):
    """Waits for the answers of noWait requests and for the notifications the example shows."""
    for step in sends:
        message = step["send"]
        if "id" in message:
            session.wait_until(lambda got: any(answers(m, message["id"]) for m in got),
                               f"the answer to {message['method']}")
    if "settleFor" in scenario:
        for method in scenario["settleFor"]:
            session.wait_until(lambda got: count_method(got, method) >= 1, method)
        return
    if any(step["send"].get("method") == "exec/start" for step in sends):
        execs = started_execs(session.received())
        session.wait_until(lambda got: count_method(got, "exec/exit") >= len(execs),
                           "the exec/exit of every exec started")


def keep_step_options(shown, sends):
    """Copies noWait/waitFor from the scenario onto the re-recorded send steps."""
    options = iter(sends)
    for step in shown:
        if "send" in step:
            source = next(options)
            for key in ("noWait", "waitFor", "pauseMs"):
                if key in source:
                    step[key] = source[key]


def normalize(steps):
    pids, text = {}, json.dumps(steps, ensure_ascii=False, separators=(",", ":"))
    text = re.sub(r'(/sb-\d+-)[A-Za-z0-9]{6}', r'\1Xq3v9T', text)
    text = re.sub(r'"createdAt":"[^"]+"', '"createdAt":"2026-11-28T12:00:00Z"', text)
    text = re.sub(r'"mtimeMs":\d+', '"mtimeMs":1795867200000', text)
    text = re.sub(r'"time":"[0-9T:.-]+Z"', '"time":"2026-11-28T12:00:00.123Z"', text)

    def stable_pid(match):
        pid = int(match.group(2))
        if pid < 100:  # a pid inside a sandbox's own pid namespace: already stable
            return match.group(0)
        pids.setdefault(pid, 40000 + len(pids) + 1)
        return f'{match.group(1)}{pids[pid]}'
    text = re.sub(r'("pid":)(\d+)', stable_pid, text)
    return json.loads(text)


def main():
    parser = argparse.ArgumentParser(description="Re-record schema/examples/*.json from agentd.")
    parser.add_argument("--agentd", default=str(REPO / "build" / "src" / "agentd"))
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted(EXAMPLES.glob("*.json"))
    failed = 0
    for path in files:
        scenario = json.loads(path.read_text(encoding="utf-8"))
        try:
            scenario["transcript"] = record(args.agentd, scenario)
        except (TimeoutError, OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            failed += 1
            continue
        path.write_text(json.dumps(scenario, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"recorded {path.relative_to(REPO) if path.is_absolute() else path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
