// A linux sandbox driven from Node (vscode-jsonrpc): the unprivileged view,
// attacks failing, what initialize probed, limits naming what fired, and
// nothing left behind by destroy or by a SIGKILLed agentd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { AGENTD_BIN, waitUntil } from './lib/agentd.mjs';

function connect(t) {
  const child = spawn(AGENTD_BIN, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const outputs = new Map();
  const exits = new Map();
  connection.onNotification('exec/output', (p) => {
    const chunks = outputs.get(p.execId) ?? { stdout: [], stderr: [] };
    chunks[p.stream].push(Buffer.from(p.data, 'base64'));
    outputs.set(p.execId, chunks);
  });
  connection.onNotification('exec/exit', (p) => exits.set(p.execId, p));
  connection.listen();
  t.after(() => { connection.dispose(); child.kill('SIGKILL'); });
  const run = async (sandboxId, argv, extra = {}) => {
    const { execId } = await connection.sendRequest('exec/start', { sandboxId, argv, ...extra });
    await waitUntil(() => exits.has(execId), { timeoutMs: 60000, what: `exit of ${execId}` });
    const chunks = outputs.get(execId) ?? { stdout: [], stderr: [] };
    return { exit: exits.get(execId), stdout: Buffer.concat(chunks.stdout).toString(), stderr: Buffer.concat(chunks.stderr).toString() };
  };
  return { child, connection, run };
}

async function linuxOrSkip(t, connection) {
  const init = await connection.sendRequest('initialize', { clientInfo: { name: 'linux-e2e' } });
  connection.sendNotification('initialized', {});
  const linux = init.backends.find((b) => b.isolation === 'linux');
  assert.ok(linux, 'initialize lists the linux backend');
  assert.ok(Object.keys(linux.features).includes('landlock'), 'initialize shows the probed kernel features');
  if (!linux.available) t.skip(`linux backend unavailable here: ${linux.reason}`);
  return linux.available;
}

test('linux: id; ls /; cat /etc/shadow; ping shows an unprivileged view and failing attacks', async (t) => {
  const { connection, run } = connect(t);
  if (!(await linuxOrSkip(t, connection))) return;
  const sandbox = await connection.sendRequest('sandbox/create', { isolation: 'linux' });
  for (const feature of ['userNamespace', 'mountNamespace', 'pidNamespace', 'netNamespace', 'seccomp', 'landlock', 'noNewPrivs']) {
    assert.equal(sandbox.capabilities[feature]?.state, 'enforced', `${feature}: ${JSON.stringify(sandbox.capabilities[feature])}`);
  }
  const { exit, stdout, stderr } = await run(sandbox.sandboxId,
    ['sh', '-c', 'id; ls /; cat /etc/shadow; ping -c1 -W1 1.1.1.1; grep CapEff /proc/self/status; echo done']);
  assert.equal(exit.status, 'exited', JSON.stringify(exit));
  assert.match(stdout, /^uid=0\(root\)/m, 'root of its own user namespace');
  assert.match(stdout, /^CapEff:\s+0+$/m, 'with no capabilities');
  const root = stdout.split('\n').filter((l) => /^[a-z0-9]+$/.test(l));
  for (const hidden of ['root', 'home', 'boot', 'sys', 'work', 'srv', 'opt']) {
    assert.ok(!root.includes(hidden), `/${hidden} of the host is not visible: ${root.join(' ')}`);
  }
  assert.ok(root.includes('workspace') && root.includes('usr'), root.join(' '));
  assert.match(stderr, /\/etc\/shadow: No such file or directory/);
  assert.match(stderr, /ping/, 'ping fails (not installed or no network)');
  assert.match(stdout, /done\n$/);
  await connection.sendRequest('sandbox/destroy', { sandboxId: sandbox.sandboxId });
});

test('linux: memory and process limits hold and name what fired', async (t) => {
  const { connection, run } = connect(t);
  if (!(await linuxOrSkip(t, connection))) return;
  const sandbox = await connection.sendRequest('sandbox/create', {
    isolation: 'linux', limits: { memoryBytes: 64 << 20, maxProcesses: 32 },
  });
  assert.equal(sandbox.capabilities['limits.memoryBytes'].state, 'enforced');
  assert.equal(sandbox.capabilities['limits.maxProcesses'].state, 'enforced');
  const bomb = await run(sandbox.sandboxId, ['python3', '-c', 'b = bytearray(512 << 20); print(len(b))']);
  assert.equal(bomb.exit.status, 'memoryLimit', JSON.stringify(bomb.exit));
  const forks = await run(sandbox.sandboxId, ['sh', '-c', 'for i in $(seq 64); do sleep 5 & done; wait'], { timeoutMs: 20000 });
  assert.match(forks.stderr, /fork/i, 'forks beyond maxProcesses fail');
  const after = await run(sandbox.sandboxId, ['echo', 'still serving']);
  assert.equal(after.stdout, 'still serving\n');
  const info = await connection.sendRequest('sandbox/info', { sandboxId: sandbox.sandboxId });
  assert.ok(info.usage.oomKills >= 1, JSON.stringify(info.usage));
  await connection.sendRequest('sandbox/destroy', { sandboxId: sandbox.sandboxId });
});

test('linux: a SIGKILLed agentd leaves no process, cgroup or workdir behind', async (t) => {
  const { child, connection, run } = connect(t);
  if (!(await linuxOrSkip(t, connection))) return;
  const sandbox = await connection.sendRequest('sandbox/create', { isolation: 'linux', limits: { maxProcesses: 64 } });
  const marker = `sleep ${900000 + Math.floor(Math.random() * 99999)}`;
  const { execId } = await connection.sendRequest('exec/start', {
    sandboxId: sandbox.sandboxId, argv: ['sh', '-c', `${marker} & (setsid ${marker} &); ${marker}`],
  });
  const sleepers = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === marker; } catch { return false; }
  });
  await waitUntil(() => sleepers().length === 3, { timeoutMs: 20000, what: 'three sleepers' });
  const cgroupDirs = () => {
    const found = [];
    const walk = (dir, depth) => {
      if (depth > 6) return;
      let entries = [];
      try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const full = `${dir}/${e.name}`;
        if (e.name === sandbox.sandboxId && dir.includes(`agentd-${child.pid}`)) found.push(full);
        else walk(full, depth + 1);
      }
    };
    walk('/sys/fs/cgroup', 0);
    return found;
  };
  const hadCgroup = cgroupDirs().length > 0;
  assert.ok(fs.existsSync(sandbox.workdir));
  child.kill('SIGKILL');
  await waitUntil(() => sleepers().length === 0, { timeoutMs: 10000, what: 'sleepers gone' });
  await waitUntil(() => !fs.existsSync(sandbox.workdir), { timeoutMs: 10000, what: 'workdir removed' });
  if (hadCgroup) await waitUntil(() => cgroupDirs().length === 0, { timeoutMs: 10000, what: 'cgroups removed' });
  void execId;
  void run;
});
