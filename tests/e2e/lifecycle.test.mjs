// Process lifecycle and transport robustness: nothing outlives agentd's
// client (stdin EOF, a SIGKILLed client, SIGTERM), oversized messages and
// broken Content-Length headers are reported and survived, and frames split
// or merged arbitrarily across writes are parsed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  E2E_DIR, ErrorCode, agentdFor, assertTrafficValid, frameBody, procStat, readPidFile, sleep, waitGone,
} from './lib/agentd.mjs';

// Starts `sh -c 'sleep 300 & echo $! > child.pid; sleep 300'` and returns
// the pids (with start times) of the exec and its background grandchild.
async function startSleepers(agent, sandbox) {
  const start = await agent.call('exec/start', {
    sandboxId: sandbox.sandboxId,
    argv: ['sh', '-c', 'sleep 300 & echo $! > child.pid; sleep 300'],
  });
  const childPid = await readPidFile(path.join(sandbox.workdir, 'child.pid'));
  const pids = {};
  for (const pid of [start.pid, childPid]) {
    const stat = procStat(pid);
    assert.ok(stat && stat.state !== 'Z', `pid ${pid} runs`);
    pids[pid] = stat.startTime;
  }
  return pids;
}

test('stdin EOF ends agentd and kills running execs and their children', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  await agent.initialize();
  const sandbox = await agent.createSandbox();
  const pids = await startSleepers(agent, sandbox);

  agent.closeStdin();
  const status = await agent.waitExit({ timeoutMs: 10000 });
  assert.deepEqual(status, { code: 0, signal: null }, agent.diagnostics());
  await waitGone(pids, { timeoutMs: 10000, what: 'the exec and its grandchild after stdin EOF' });
  assert.ok(!existsSync(sandbox.workdir), 'the workdir is removed');
});

test('SIGTERM ends agentd and kills running execs and their children', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  await agent.initialize();
  const sandbox = await agent.createSandbox();
  const pids = await startSleepers(agent, sandbox);

  agent.proc.kill('SIGTERM');
  const status = await agent.waitExit({ timeoutMs: 10000 });
  assert.ok(status.code === 128 + 15 || status.signal === 'SIGTERM', `exit status ${JSON.stringify(status)}`);
  await waitGone(pids, { timeoutMs: 10000, what: 'the exec and its grandchild after SIGTERM' });
});

test('a SIGKILLed client leaves no agentd and no exec behind', async (t) => {
  const wrapper = spawn(process.execPath, [path.join(E2E_DIR, 'fixtures', 'client-wrapper.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  wrapper.stderr.setEncoding('utf8');
  wrapper.stderr.on('data', (text) => { stderr += text; });
  const wrapperExit = new Promise((resolve) => wrapper.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => { if (wrapper.exitCode === null && wrapper.signalCode === null) wrapper.kill('SIGKILL'); });

  const line = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the wrapper printed no pids within 20 s; stderr:\n${stderr}`)), 20000);
    wrapper.stdout.setEncoding('utf8');
    wrapper.stdout.on('data', (text) => {
      out += text;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.slice(0, out.indexOf('\n')));
      }
    });
    wrapper.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the wrapper exited (${code}, ${signal}) early; stderr:\n${stderr}`));
    });
  });
  const info = JSON.parse(line);
  const pids = {};
  for (const pid of [info.agentdPid, info.execPid, info.childPid]) {
    const stat = procStat(pid);
    assert.ok(stat && stat.state !== 'Z', `pid ${pid} runs before the kill`);
    pids[pid] = stat.startTime;
  }
  // Processes of the sandbox must go; outliving them the kill would leak.
  t.after(() => {
    for (const pid of Object.keys(pids)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone, as expected */ }
    }
  });

  wrapper.kill('SIGKILL');
  assert.deepEqual(await wrapperExit, { code: null, signal: 'SIGKILL' });
  await waitGone(pids, { timeoutMs: 10000, what: 'agentd, the exec and its grandchild after the client was SIGKILLed' });
});

for (const framing of ['line', 'content-length']) {
  test(`${framing} framing: an oversized message is -32700 naming the limit, and the session goes on`, async (t) => {
    const agent = agentdFor(t, { framing, args: ['--max-message-bytes', '2048'] });
    const init = await agent.initialize();
    assert.equal(init.capabilities.maxMessageBytes, 2048);

    const message = (pad) => JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'sandbox/list', params: { labels: { pad } } });
    const body = message('y'.repeat(4096 - message('').length));
    assert.equal(Buffer.byteLength(body), 4096);
    const messages = await agent.exchange(body);
    assert.equal(messages.length, 1, JSON.stringify(messages));
    assert.equal(messages[0].id, null);
    assert.equal(messages[0].error?.code, ErrorCode.ParseError);
    assert.match(messages[0].error.message, /2048/, 'the error names the limit');
    assert.ok(!agent.messages.some((m) => m.id === 'big'), 'the oversized request is not executed');

    assert.deepEqual(await agent.call('sandbox/list', {}), { sandboxes: [] });
    assert.equal((await agent.createSandbox()).isolation, 'none');
    assertTrafficValid(t, agent, assert);
  });
}

test('line framing: an oversized line arriving in pieces is skipped whole', async (t) => {
  const agent = agentdFor(t, { framing: 'line', args: ['--max-message-bytes', '2048'] });
  await agent.initialize();
  const after = agent.messages.length;
  const line = `{"jsonrpc":"2.0","id":"big","method":"sandbox/list","params":{"labels":{"pad":"${'z'.repeat(6000)}"}}}`;
  for (let i = 0; i < line.length; i += 700) {
    agent.sendRaw(line.slice(i, i + 700));
    await sleep(20);
  }
  agent.sendRaw('\n');
  const list = await agent.request('sandbox/list', {}, { id: 'after' });
  assert.deepEqual(list.result, { sandboxes: [] });
  const between = agent.messages.slice(after, agent.messages.indexOf(list));
  assert.equal(between.length, 1, `exactly one error for the oversized line: ${JSON.stringify(between)}`);
  assert.equal(between[0].error?.code, ErrorCode.ParseError);
  assert.match(between[0].error.message, /2048/);
  assertTrafficValid(t, agent, assert);
});

test('content-length framing: malformed headers are reported and agentd goes on answering', async (t) => {
  const agent = agentdFor(t, { framing: 'content-length' });
  const before = agent.messages.length;
  agent.sendRaw('Content-Length: abc\r\n\r\n');
  const first = await agent.waitFor(() => true, { after: before, what: 'the error for Content-Length: abc' });
  assert.equal(first.error?.code, ErrorCode.ParseError, JSON.stringify(first));
  assert.equal(first.id, null);
  assert.match(first.error.message, /Content-Length/i);
  assert.ok(agent.proc.exitCode === null, 'agentd still runs');

  // Still answering: initialize in proper framing works.
  const init = await agent.initialize();
  assert.equal(init.capabilities.framing, 'content-length');

  const malformed = [
    'Content-Length: -5\r\n\r\n',
    'Content-Length: 12x\r\n\r\n',
    'Content-Type: application/json\r\n\r\n',
    'no colon here\r\n\r\n',
  ];
  for (const header of malformed) {
    const messages = await agent.exchangeRaw(header);
    assert.equal(messages.length, 1, `${JSON.stringify(header)}: ${JSON.stringify(messages)}`);
    assert.equal(messages[0].error?.code, ErrorCode.ParseError, JSON.stringify(messages[0]));
    assert.equal(messages[0].id, null);
  }
  // Other headers are ignored, in any case and order.
  const body = JSON.stringify({ jsonrpc: '2.0', id: 'typed', method: 'sandbox/list', params: {} });
  const response = await agent.exchangeRaw(
    `content-type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  assert.deepEqual(response, [{ jsonrpc: '2.0', id: 'typed', result: { sandboxes: [] } }]);
  assert.equal(agent.parser.framing, 'content-length', 'agentd answers in Content-Length framing');
  assertTrafficValid(t, agent, assert);
});

for (const framing of ['line', 'content-length']) {
  test(`${framing} framing: frames merged into one write or split byte by byte are parsed`, async (t) => {
    const agent = agentdFor(t, { framing });
    await agent.initialize();
    const sandbox = await agent.createSandbox();
    const request = (id, params) => frameBody(framing, JSON.stringify({ jsonrpc: '2.0', id, method: 'sandbox/list', params }));

    // Three messages in one write.
    agent.sendRaw(Buffer.concat([request('m1', {}), request('m2', {}), request('m3', {})]));
    for (const id of ['m1', 'm2', 'm3']) {
      const r = await agent.waitFor((m) => m.id === id, { what: id });
      assert.equal(r.result.sandboxes.length, 1);
    }

    // One message (with a multi-byte label value) a byte at a time.
    const bytes = request('split', { labels: { 'ключ': 'значение ✓' } });
    for (let i = 0; i < bytes.length; ++i) {
      agent.sendRaw(bytes.subarray(i, i + 1));
      if (i % 16 === 0) await sleep(1);
    }
    const split = await agent.waitFor((m) => m.id === 'split', { what: 'the split message' });
    assert.deepEqual(split.result, { sandboxes: [] }, 'no sandbox has that label');

    // A message split at an arbitrary point together with the next one.
    const both = Buffer.concat([request('s1', {}), request('s2', {})]);
    const cut = Math.floor(both.length / 3);
    agent.sendRaw(both.subarray(0, cut));
    await sleep(50);
    agent.sendRaw(both.subarray(cut));
    await agent.waitFor((m) => m.id === 's2', { what: 's2' });
    assert.ok(agent.messages.some((m) => m.id === 's1'));
    assert.equal(agent.parser.framing, framing, 'agentd answers in the framing the client chose');
    await agent.call('sandbox/destroy', { sandboxId: sandbox.sandboxId });
    assertTrafficValid(t, agent, assert);
  });
}
