// Reliability under load, through the real binary: many execs at once over
// both backends lose, reorder and duplicate nothing; an output flood is cut
// at its limit while agentd keeps answering; a SIGKILLed client leaves no
// sandbox (processes, cgroups, mounts) behind. No timing assertions: every
// wait is bounded only so that a hang fails instead of blocking the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

import {
  AGENTD_BIN, E2E_DIR, LineParser, agentdFor, assertTrafficValid, procStat, waitGone, waitUntil,
} from './lib/agentd.mjs';

const EXECS = 100;
const LINES = 400;  // per exec and stream: ~16 KiB each, several exec/output chunks under load

// The checksum each line carries: a function of (exec, stream, line) that
// awk computes exactly (all values stay below 2^53) and the test recomputes.
const checksum = (k, s, n) => (k * 1000003 + s * 7919 + n * 40503 + 17) % 2147483647;
const expectedLines = (k, s) => Array.from({ length: LINES },
  (_, n) => `exec ${k} stream ${s} line ${n} ${checksum(k, s, n)}`);

// sh + awk, both in every sandbox's /usr: stdout (stream 1) and stderr
// (stream 2) written interleaved, line by line, unbuffered.
function writerArgv(k) {
  const awk = (s) => `awk -v k=${k} -v s=${s} -v N=${LINES} 'BEGIN { for (n = 0; n < N; n++) { ` +
    `printf "exec %d stream %d line %d %d\\n", k, s, n, (k * 1000003 + s * 7919 + n * 40503 + 17) % 2147483647; ` +
    `fflush() } }'`;
  return ['sh', '-c', `${awk(1)} & ${awk(2)} 1>&2; wait`];
}

async function initializeWithBackends(agent) {
  const init = await agent.initialize();
  const linux = init.backends.find((b) => b.isolation === 'linux');
  return { linuxAvailable: Boolean(linux?.available), linuxReason: linux?.reason ?? 'not listed by initialize' };
}

test(`${EXECS} concurrent execs over host-direct and linux sandboxes lose and reorder nothing`, async (t) => {
  const agent = agentdFor(t);
  const { linuxAvailable, linuxReason } = await initializeWithBackends(agent);
  if (!linuxAvailable) {
    t.skip(`the mix needs the linux backend, unavailable here: ${linuxReason}`);
    return;
  }
  const sandboxes = [];
  for (const isolation of ['none', 'linux', 'none', 'linux']) {
    sandboxes.push((await agent.createSandbox({ isolation })).sandboxId);
  }

  // Every exec/start at once: the requests are in flight together.
  const starts = await Promise.all(Array.from({ length: EXECS }, (_, k) => agent.call('exec/start',
    { sandboxId: sandboxes[k % sandboxes.length], argv: writerArgv(k) }, { timeoutMs: 60000 })));
  const exits = await Promise.all(starts.map((s) => agent.waitForNotification(
    'exec/exit', (p) => p.execId === s.execId, { timeoutMs: 120000 })));

  starts.forEach((start, k) => {
    const what = `exec ${k} (${start.execId})`;
    const mine = agent.messages.filter((m) => !Array.isArray(m) && m.params?.execId === start.execId &&
      (m.method === 'exec/output' || m.method === 'exec/exit'));
    const exitIndex = mine.findIndex((m) => m.method === 'exec/exit');
    assert.equal(mine.filter((m) => m.method === 'exec/exit').length, 1, `${what}: exactly one exec/exit`);
    assert.equal(exitIndex, mine.length - 1, `${what}: no exec/output after its exec/exit`);
    const exit = exits[k].params;
    assert.equal(exit.status, 'exited', `${what}: ${JSON.stringify(exit)}`);
    assert.equal(exit.exitCode, 0, `${what}: ${JSON.stringify(exit)}`);

    for (const [s, stream] of [[1, 'stdout'], [2, 'stderr']]) {
      const chunks = mine.filter((m) => m.method === 'exec/output' && m.params.stream === stream);
      chunks.forEach((m, i) => assert.equal(m.params.seq, i, `${what} ${stream}: seq ${i} in order`));
      const bytes = Buffer.concat(chunks.map((m) => Buffer.from(m.params.data, 'base64')));
      assert.equal(exit[`${stream}Bytes`], bytes.length, `${what}: ${stream}Bytes counts what arrived`);
      const lines = bytes.toString('utf8').split('\n');
      assert.equal(lines.pop(), '', `${what} ${stream}: ends with a whole line`);
      assert.deepEqual(lines, expectedLines(k, s), `${what} ${stream}: every line, in order, intact`);
    }
  });
  assertTrafficValid(t, agent, assert);
});

// A raw line client that counts exec/output instead of keeping it: the flood
// would otherwise pile up hundreds of MiB of strings in the test process.
function floodClient(t) {
  const child = spawn(AGENTD_BIN, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  child.stderr.resume();
  const state = { kept: [], outputBytes: 0, outputs: 0, nextSeq: 0, seqGaps: 0, events: [] };
  const parser = new LineParser((m) => {
    if (m.method === 'exec/output') {
      state.outputs += 1;
      if (m.params.seq !== state.nextSeq) state.seqGaps += 1;
      state.nextSeq = m.params.seq + 1;
      state.outputBytes += Buffer.byteLength(m.params.data, 'base64');
      return;
    }
    state.kept.push(m);
    state.events.push(m.method ?? `reply ${m.id}`);
  });
  child.stdout.on('data', (chunk) => parser.push(chunk));
  let nextId = 1;
  const call = async (method, params) => {
    const id = nextId++;
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    const reply = await waitUntil(() => state.kept.find((m) => m.id === id),
      { timeoutMs: 120000, what: `the reply to ${method}` });
    if (reply.error) throw new Error(`${method}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  };
  return { child, state, call };
}

for (const isolation of ['none', 'linux']) {
  test(`${isolation}: a 10 GiB flood from /dev/zero ends at its outputLimit while agentd keeps answering`, async (t) => {
    const { state, call } = floodClient(t);
    const init = await call('initialize', { clientInfo: { name: 'reliability', version: '0' } });
    const backend = init.backends.find((b) => b.isolation === (isolation === 'none' ? 'none' : 'linux'));
    if (isolation === 'linux' && !backend?.available) {
      t.skip(`linux backend unavailable here: ${backend?.reason ?? 'not listed by initialize'}`);
      return;
    }
    const limit = 256 << 20;
    const { sandboxId } = await call('sandbox/create', { isolation, limits: { maxOutputBytes: limit } });
    const start = await call('exec/start', { sandboxId, argv: ['head', '-c', '10G', '/dev/zero'] });
    await waitUntil(() => state.outputs > 0, { timeoutMs: 60000, what: 'the first exec/output of the flood' });
    // Requests during the flood: each is answered, the first before the flood ends.
    const listed = await call('sandbox/list', {});
    assert.ok(listed.sandboxes.some((s) => s.sandboxId === sandboxId), JSON.stringify(listed));
    const answeredAt = state.events.length;
    const execs = await call('exec/list', { sandboxId });
    assert.ok(Array.isArray(execs.execs));

    const exit = (await waitUntil(() => state.kept.find((m) => m.method === 'exec/exit'),
      { timeoutMs: 120000, what: 'exec/exit of the flood' })).params;
    assert.ok(state.events.indexOf('exec/exit') >= answeredAt,
      `sandbox/list was answered before the flood ended: ${state.events.join(', ')}`);
    assert.equal(exit.status, 'outputLimit', JSON.stringify(exit));
    assert.equal(exit.truncated, true);
    assert.equal(exit.stdoutBytes, limit);
    assert.equal(state.outputBytes, limit, 'exactly the limit was delivered');
    assert.equal(state.seqGaps, 0, 'seq contiguous from 0');
    if (isolation === 'none') await waitGone({ [start.pid]: procStat(start.pid)?.startTime }, { what: 'head' });
    // Still serving after the flood.
    const after = await call('exec/run', { sandboxId, argv: ['echo', 'still here'], encoding: 'utf8' });
    assert.equal(after.stdout, 'still here\n');
  });
}

// What a linux sandbox leaves on the host while agentd runs: its cgroup
// directories (agentd-<pid> in each hierarchy) and any mount naming it.
function cgroupDirsOf(agentdPid) {
  const found = [];
  const roots = new Set();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash > 0 && (fields[dash + 1] === 'cgroup' || fields[dash + 1] === 'cgroup2')) roots.add(fields[4]);
  }
  const walk = (dir, depth) => {
    if (depth > 6) return;
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const full = path.join(dir, e.name);
      if (e.name === `agentd-${agentdPid}`) found.push(full);
      else walk(full, depth + 1);
    }
  };
  for (const root of roots) walk(root, 0);
  return found;
}

test('linux: a SIGKILLed client leaves no sandbox processes, cgroups or workdir behind', async (t) => {
  const wrapper = spawn(process.execPath, [path.join(E2E_DIR, 'fixtures', 'linux-client-wrapper.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let out = '';
  wrapper.stderr.setEncoding('utf8');
  wrapper.stderr.on('data', (text) => { stderr += text; });
  wrapper.stdout.setEncoding('utf8');
  wrapper.stdout.on('data', (text) => { out += text; });
  const wrapperExit = new Promise((resolve) => wrapper.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => { if (wrapper.exitCode === null && wrapper.signalCode === null) wrapper.kill('SIGKILL'); });

  await waitUntil(() => out.includes('\n') || wrapper.exitCode !== null,
    { timeoutMs: 30000, what: `the wrapper's report; stderr:\n${stderr}` });
  const info = JSON.parse(out.slice(0, out.indexOf('\n')));
  if (info.skip) {
    t.skip(info.skip);
    return;
  }
  const pids = {};
  for (const pid of [info.agentdPid, ...info.sandboxPids]) {
    const stat = procStat(pid);
    assert.ok(stat && stat.state !== 'Z', `pid ${pid} runs before the kill`);
    pids[pid] = stat.startTime;
  }
  const cgroups = cgroupDirsOf(info.agentdPid);
  t.diagnostic(`cgroup directories before the kill: ${cgroups.join(', ') || 'none (no cgroup here)'}`);
  assert.ok(fs.existsSync(info.workdir), `the workdir ${info.workdir} exists before the kill`);
  t.after(() => {
    for (const pid of Object.keys(pids)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone, as expected */ }
    }
  });

  wrapper.kill('SIGKILL');
  assert.deepEqual(await wrapperExit, { code: null, signal: 'SIGKILL' });
  await waitGone(pids, { timeoutMs: 15000, what: 'agentd, the sandbox init and its exec after the client was SIGKILLed' });
  await waitUntil(() => cgroupDirsOf(info.agentdPid).length === 0,
    { timeoutMs: 15000, what: `the sandbox cgroups to be removed: ${cgroupDirsOf(info.agentdPid).join(', ')}` });
  // The sandbox's mounts lived in its own mount namespace; what the janitor
  // must remove on the host is the workdir.
  await waitUntil(() => !fs.existsSync(info.workdir),
    { timeoutMs: 15000, what: `the workdir ${info.workdir} to be removed` });
});
