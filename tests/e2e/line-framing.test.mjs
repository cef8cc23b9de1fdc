// agentd over line-delimited JSON (the MCP stdio framing) with a raw client
// that frames and parses bytes itself: the exec surface, encodings, stdin,
// limits, environment scrubbing, cwd confinement and sandbox errors.
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ErrorCode, agentdFor, assertTrafficValid, procStat, waitGone } from './lib/agentd.mjs';

// Tests of error answers that the server currently gets wrong (reported).

async function session(t, options = {}) {
  const agent = agentdFor(t, { framing: 'line', ...options });
  const init = await agent.initialize();
  const sandbox = await agent.createSandbox();
  return { agent, init, sandbox, sandboxId: sandbox.sandboxId };
}

function checkSeq(outputs) {
  for (const stream of ['stdout', 'stderr']) {
    const seqs = outputs.filter((p) => p.stream === stream).map((p) => p.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i), `${stream} seq numbers run 0, 1, 2, ...`);
  }
}

test('line framing: initialize, streamed exec, destroy, shutdown, exit', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  const init = await agent.initialize();
  assert.equal(init.serverInfo.name, 'agentd');
  assert.equal(init.capabilities.framing, 'line');
  assert.ok(init.backends.some((b) => b.isolation === 'none' && b.available === true));

  const sandbox = await agent.createSandbox({ isolation: 'none', labels: { suite: 'e2e' } });
  assert.equal(sandbox.isolation, 'none');
  assert.ok(existsSync(sandbox.workdir), 'the workdir exists');
  const { sandboxes } = await agent.call('sandbox/list', { labels: { suite: 'e2e' } });
  assert.deepEqual(sandboxes.map((s) => s.sandboxId), [sandbox.sandboxId]);

  const run = await agent.execToExit({
    sandboxId: sandbox.sandboxId,
    argv: ['sh', '-c', 'echo one; echo two >&2; sleep 0.1; echo three; exit 3'],
  });
  assert.equal(run.stdout.toString(), 'one\nthree\n');
  assert.equal(run.stderr.toString(), 'two\n');
  checkSeq(run.outputs);
  assert.equal(run.exit.status, 'exited');
  assert.equal(run.exit.exitCode, 3);
  assert.equal(run.exit.stdoutBytes, run.stdout.length);
  assert.equal(run.exit.stderrBytes, run.stderr.length);
  const mine = agent.messages.filter((m) => m.params?.execId === run.start.execId);
  assert.equal(mine.filter((m) => m.method === 'exec/exit').length, 1, 'exactly one exec/exit');
  assert.equal(mine[mine.length - 1].method, 'exec/exit', 'exec/exit comes after all output');

  const info = await agent.call('sandbox/info', { sandboxId: sandbox.sandboxId });
  assert.equal(info.usage.execCount, 1);
  assert.equal(info.usage.stdoutBytes, run.stdout.length);

  const destroyed = await agent.call('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  assert.equal(destroyed.workdirRemoved, true);
  assert.ok(!existsSync(sandbox.workdir), 'the workdir is removed');
  assert.deepEqual((await agent.call('sandbox/list', {})).sandboxes, []);

  const { response, status } = await agent.shutdownAndExit();
  assert.equal(response.result, null);
  assert.deepEqual(status, { code: 0, signal: null });
  assertTrafficValid(t, agent, assert);
});

test('line framing: utf8 output keeps characters split across writes whole and flags invalid bytes', async (t) => {
  const { agent, sandboxId } = await session(t);
  // "€" is E2 82 AC, written in two parts with a pause between; \377 is
  // never valid UTF-8; a lone \342 at the end of stderr is cut off.
  const script = "printf '\\342\\202'; sleep 0.3; printf '\\254\\n'; printf 'a\\377b\\n'; printf 'x\\342' >&2";
  const run = await agent.execToExit({ sandboxId, argv: ['sh', '-c', script], encoding: 'utf8' });
  assert.equal(run.exit.status, 'exited');
  for (const p of run.outputs) assert.equal(p.encoding, 'utf8');
  checkSeq(run.outputs);

  const stdout = run.outputs.filter((p) => p.stream === 'stdout');
  const stderr = run.outputs.filter((p) => p.stream === 'stderr');
  assert.equal(stdout.map((p) => p.data).join(''), '€\na\uFFFDb\n');
  assert.equal(stderr.map((p) => p.data).join(''), 'x\uFFFD');
  // Only chunks that really held invalid bytes are flagged.
  for (const p of [...stdout, ...stderr]) {
    assert.equal(p.replaced === true, p.data.includes('\uFFFD'), `replaced flag of ${JSON.stringify(p)}`);
  }
  assert.equal(run.exit.stdoutBytes, 3 + 1 + 4, 'byte counts are of the raw output');
  assert.equal(run.exit.stderrBytes, 2);

  const whole = await agent.call('exec/run', { sandboxId, argv: ['sh', '-c', "printf 'caf\\303\\251 \\377'"], encoding: 'utf8' });
  assert.equal(whole.encoding, 'utf8');
  assert.equal(whole.stdout, 'café \uFFFD');
  assert.equal(whole.replaced, true);
  assert.equal(whole.stdoutBytes, 7);
  assertTrafficValid(t, agent, assert);
});

test('line framing: base64 output is lossless', async (t) => {
  const { agent, sandboxId } = await session(t);
  const run = await agent.execToExit({ sandboxId, argv: ['sh', '-c', "printf '\\000\\001\\377\\342\\202'"] });
  assert.deepEqual([...run.stdout], [0, 1, 255, 0xe2, 0x82]);
  assert.equal(run.exit.stdoutBytes, 5);
  assertTrafficValid(t, agent, assert);
});

test('line framing: stdin pipe, exec/write text and eof', async (t) => {
  const { agent, sandboxId } = await session(t);
  const start = await agent.call('exec/start', { sandboxId, argv: ['cat'], stdin: 'pipe', encoding: 'utf8' });
  assert.deepEqual(await agent.call('exec/write', { execId: start.execId, text: 'hello\n' }), { bytesWritten: 6 });
  await agent.waitForNotification('exec/output', (p) => p.execId === start.execId && p.data.includes('hello'));
  assert.deepEqual(
    await agent.call('exec/write', { execId: start.execId, data: Buffer.from('wörld\n').toString('base64') }),
    { bytesWritten: 7 },
  );
  assert.deepEqual(await agent.call('exec/write', { execId: start.execId, text: 'bye\n', eof: true }), { bytesWritten: 4 });

  const exit = await agent.waitForNotification('exec/exit', (p) => p.execId === start.execId);
  assert.equal(exit.params.status, 'exited');
  assert.equal(exit.params.exitCode, 0);
  const outputs = agent.notifications('exec/output', (p) => p.execId === start.execId).map((m) => m.params);
  assert.equal(outputs.map((p) => p.data).join(''), 'hello\nwörld\nbye\n');
  assert.equal(exit.params.stdoutBytes, Buffer.byteLength('hello\nwörld\nbye\n'));

  // Without stdin "pipe" there is nothing to write to.
  const nostdin = await agent.call('exec/start', { sandboxId, argv: ['sleep', '30'] });
  const refused = await agent.callError('exec/write', { execId: nostdin.execId, text: 'x' });
  assert.equal(refused.code, ErrorCode.InvalidState);
  await agent.call('exec/kill', { execId: nostdin.execId });
  await agent.waitForNotification('exec/exit', (p) => p.execId === nostdin.execId);
  assertTrafficValid(t, agent, assert);
});

test('line framing: exec/write after eof, to an exited exec, or with bad params is refused', async (t) => {
  const { agent, sandboxId } = await session(t);
  const start = await agent.call('exec/start', { sandboxId, argv: ['sleep', '30'], stdin: 'pipe' });
  assert.deepEqual(await agent.call('exec/write', { execId: start.execId, eof: true }), { bytesWritten: 0 });
  assert.equal((await agent.callError('exec/write', { execId: start.execId, text: 'late' })).code, ErrorCode.InvalidState);
  for (const params of [
    { execId: start.execId },
    { execId: start.execId, text: 'a', data: 'YQ==' },
    { execId: start.execId, data: '***' },
  ]) {
    const error = await agent.callError('exec/write', params);
    assert.equal(error.code, ErrorCode.InvalidParams, JSON.stringify(params));
    assert.match(error.message, /params\.(data|text)/);
  }
  await agent.call('exec/kill', { execId: start.execId });
  await agent.waitForNotification('exec/exit', (p) => p.execId === start.execId);
  const gone = await agent.callError('exec/write', { execId: start.execId, text: 'x' });
  assert.equal(gone.code, ErrorCode.ExecNotFound);
  assert.equal(gone.data?.execId, start.execId);
  assertTrafficValid(t, agent, assert);
});

test('line framing: exec/kill ends the exec as killed', async (t) => {
  const { agent, sandboxId } = await session(t);
  const start = await agent.call('exec/start', { sandboxId, argv: ['sleep', '30'] });
  const stat = procStat(start.pid);
  assert.ok(stat, 'the sleep runs');
  assert.deepEqual(await agent.call('exec/kill', { execId: start.execId }), { execId: start.execId, signal: 'SIGKILL' });
  const exit = await agent.waitForNotification('exec/exit', (p) => p.execId === start.execId);
  assert.equal(exit.params.status, 'killed');
  assert.equal(exit.params.signal, 9);
  assert.equal(exit.params.signalName, 'SIGKILL');
  assert.equal(exit.params.exitCode, undefined);
  await waitGone({ [start.pid]: stat.startTime });

  const term = await agent.call('exec/start', { sandboxId, argv: ['sleep', '30'] });
  assert.equal((await agent.call('exec/kill', { execId: term.execId, signal: 'TERM' })).signal, 'SIGTERM');
  const termExit = await agent.waitForNotification('exec/exit', (p) => p.execId === term.execId);
  assert.equal(termExit.params.status, 'killed');
  assert.equal(termExit.params.signalName, 'SIGTERM');
  assertTrafficValid(t, agent, assert);
});

test('line framing: exec/kill of an unknown or finished exec is -32003', async (t) => {
  const { agent, sandboxId } = await session(t);
  const run = await agent.call('exec/run', { sandboxId, argv: ['true'] });
  assert.equal((await agent.callError('exec/kill', { execId: run.execId })).code, ErrorCode.ExecNotFound);
  assert.equal((await agent.callError('exec/kill', { execId: 'ex-nope' })).code, ErrorCode.ExecNotFound);
  const start = await agent.call('exec/start', { sandboxId, argv: ['sleep', '30'] });
  const badSignal = await agent.callError('exec/kill', { execId: start.execId, signal: 'SIGNOPE' });
  assert.equal(badSignal.code, ErrorCode.InvalidParams);
  assert.match(badSignal.message, /params\.signal/);
  await agent.call('exec/kill', { execId: start.execId });
  await agent.waitForNotification('exec/exit', (p) => p.execId === start.execId);
  assertTrafficValid(t, agent, assert);
});

test('line framing: timeoutMs ends the exec with status timeout', async (t) => {
  const { agent, sandboxId } = await session(t);
  const run = await agent.execToExit({ sandboxId, argv: ['sleep', '30'], timeoutMs: 300 });
  assert.equal(run.exit.status, 'timeout');
  assert.match(run.exit.reason, /300/);
  // Killed before the sleep's own end (a bound from the command, not a speed check).
  assert.ok(run.exit.durationMs >= 250 && run.exit.durationMs < 30000, `durationMs ${run.exit.durationMs}`);
  await waitGone([run.start.pid]);

  const viaRun = await agent.call('exec/run', { sandboxId, argv: ['sh', '-c', 'echo started; sleep 30'], timeoutMs: 300 });
  assert.equal(viaRun.status, 'timeout');
  assert.equal(Buffer.from(viaRun.stdout, 'base64').toString(), 'started\n', 'output up to the timeout is kept');
  assertTrafficValid(t, agent, assert);
});

test('line framing: maxOutputBytes ends the exec with status outputLimit', async (t) => {
  const { agent, sandboxId } = await session(t);
  const run = await agent.execToExit({ sandboxId, argv: ['yes'], maxOutputBytes: 1000 });
  assert.equal(run.exit.status, 'outputLimit');
  assert.equal(run.exit.truncated, true);
  assert.equal(run.exit.stdoutBytes, 1000);
  assert.equal(run.stdout.length, 1000, 'exactly the allowed bytes are delivered');
  assert.ok(/^(y\n)+$/.test(run.stdout.toString()));
  await waitGone([run.start.pid]);

  const small = await agent.call('exec/run', { sandboxId, argv: ['echo', 'fits'], maxOutputBytes: 1000 });
  assert.equal(small.status, 'exited');
  assert.equal(small.truncated, false);
  assertTrafficValid(t, agent, assert);
});

test('line framing: a program that cannot be found is a setupError exec', async (t) => {
  const { agent, sandboxId } = await session(t);
  const program = 'agentd-e2e-no-such-program';
  const run = await agent.execToExit({ sandboxId, argv: [program, '--flag'] });
  assert.equal(run.start.pid, null);
  assert.equal(run.exit.status, 'setupError');
  assert.ok(run.exit.reason.includes(program), `reason names the program: ${run.exit.reason}`);
  assert.equal(run.outputs.length, 0);
  const startIndex = agent.messages.findIndex((m) => m.result?.execId === run.start.execId);
  const exitIndex = agent.messages.findIndex((m) => m.method === 'exec/exit' && m.params.execId === run.start.execId);
  assert.ok(startIndex >= 0 && startIndex < exitIndex, 'exec/start is answered before exec/exit is sent');

  const viaRun = await agent.call('exec/run', { sandboxId, argv: ['/nonexistent/agentd-e2e'] });
  assert.equal(viaRun.status, 'setupError');
  assert.ok(viaRun.reason.includes('/nonexistent/agentd-e2e'), viaRun.reason);
  assertTrafficValid(t, agent, assert);
});

test('line framing: agentd\'s environment does not reach commands', async (t) => {
  const env = { ...process.env, AGENTD_E2E_SECRET: 'hunter2-e2e' };
  const { agent, sandbox, sandboxId } = await session(t, { env });
  const run = await agent.call('exec/run', { sandboxId, argv: ['env'], env: { E2E_VISIBLE: 'yes' }, encoding: 'utf8' });
  assert.equal(run.status, 'exited');
  assert.ok(!run.stdout.includes('AGENTD_E2E_SECRET') && !run.stdout.includes('hunter2-e2e'),
    `agentd's environment leaked into the command:\n${run.stdout}`);
  const vars = new Map(run.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  assert.equal(vars.get('E2E_VISIBLE'), 'yes');
  assert.ok(vars.get('PATH'), 'PATH is set');
  assert.equal(vars.get('HOME'), sandbox.workdir);
  assertTrafficValid(t, agent, assert);
});

test('line framing: LD_PRELOAD and other code-injecting variables are refused with -32602', async (t) => {
  const { agent, sandboxId } = await session(t);
  for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'BASH_ENV']) {
    const error = await agent.callError('exec/start', { sandboxId, argv: ['true'], env: { [name]: '/tmp/evil.so' } });
    assert.equal(error.code, ErrorCode.InvalidParams);
    assert.ok(error.message.includes(`params.env.${name}`), error.message);
  }
  const atCreate = await agent.callError('sandbox/create', { isolation: 'none', env: { LD_PRELOAD: '/tmp/evil.so' } });
  assert.equal(atCreate.code, ErrorCode.InvalidParams);
  assert.ok(atCreate.message.includes('params.env.LD_PRELOAD'), atCreate.message);
  assertTrafficValid(t, agent, assert);
});

test('line framing: cwd outside the workdir is refused with -32602 naming params.cwd', async (t) => {
  const { agent, sandboxId } = await session(t);
  const prepared = await agent.call('exec/run', { sandboxId, argv: ['sh', '-c', 'mkdir -p sub/dir && ln -s / escape'] });
  assert.equal(prepared.exitCode, 0);

  for (const cwd of ['../..', '..', '/etc', '/', 'sub/../../..', 'escape', 'escape/etc', 'missing']) {
    const error = await agent.callError('exec/start', { sandboxId, argv: ['pwd'], cwd });
    assert.equal(error.code, ErrorCode.InvalidParams, `cwd ${cwd}: ${JSON.stringify(error)}`);
    assert.ok(error.message.includes('params.cwd'), `cwd ${cwd}: ${error.message}`);
  }
  assert.deepEqual((await agent.call('exec/list', {})).execs, [], 'refused execs never start');
  assert.equal((await agent.call('exec/run', { sandboxId, argv: ['true'] })).status, 'exited', 'agentd still serves');
  assertTrafficValid(t, agent, assert);
});

test('line framing: cwd inside the workdir, relative or absolute', async (t) => {
  const { agent, sandbox, sandboxId } = await session(t);
  const workdir = realpathSync(sandbox.workdir);
  const prepared = await agent.call('exec/run', { sandboxId, argv: ['mkdir', '-p', 'sub/dir'] });
  assert.equal(prepared.exitCode, 0);

  for (const [cwd, expected] of [['sub/dir', 'sub/dir'], [path.join(sandbox.workdir, 'sub'), 'sub'], ['.', '']]) {
    const run = await agent.call('exec/run', { sandboxId, argv: ['pwd', '-P'], cwd, encoding: 'utf8' });
    assert.equal(run.stdout.trim(), path.join(workdir, expected), `cwd ${cwd}`);
  }
  assertTrafficValid(t, agent, assert);
});

test('line framing: isolation must be chosen explicitly', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  await agent.initialize();
  const omitted = await agent.callError('sandbox/create', {});
  assert.equal(omitted.code, ErrorCode.InvalidParams);
  assert.ok(omitted.message.includes('params.isolation'), omitted.message);
  const bogus = await agent.callError('sandbox/create', { isolation: 'docker' });
  assert.equal(bogus.code, ErrorCode.InvalidParams);
  assert.ok(bogus.message.includes('params.isolation'), bogus.message);
  const unknownField = await agent.callError('sandbox/create', { isolation: 'none', isolaton: 'none' });
  assert.equal(unknownField.code, ErrorCode.InvalidParams);
  assert.deepEqual((await agent.call('sandbox/list', {})).sandboxes, []);
  assertTrafficValid(t, agent, assert);
});

test('line framing: isolation "linux" either works with capabilities or is refused with a reason', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  const init = await agent.initialize();
  const backend = init.backends.find((b) => b.isolation === 'linux');
  const response = await agent.request('sandbox/create', { isolation: 'linux' });
  if ('error' in response) {
    assert.equal(response.error.code, ErrorCode.IsolationUnavailable, JSON.stringify(response.error));
    assert.ok(response.error.message.length > 0);
    assert.equal(typeof response.error.data?.reason, 'string', 'the error says why');
    if (backend) assert.equal(backend.available, false, 'initialize said the linux backend is available');
    t.diagnostic(`isolation "linux" unavailable: ${response.error.message}`);
  } else {
    const sandbox = response.result;
    assert.equal(sandbox.isolation, 'linux');
    assert.equal(typeof sandbox.capabilities, 'object');
    assert.ok(Object.keys(sandbox.capabilities).length > 0, 'capabilities are listed');
    const run = await agent.call('exec/run', { sandboxId: sandbox.sandboxId, argv: ['echo', 'inside'], timeoutMs: 30000 });
    assert.equal(run.status, 'exited', JSON.stringify(run));
    assert.equal(Buffer.from(run.stdout, 'base64').toString(), 'inside\n');
    const streamed = await agent.execToExit({
      sandboxId: sandbox.sandboxId, argv: ['sh', '-c', 'echo out; echo err >&2; exit 4'], timeoutMs: 30000,
    });
    assert.equal(streamed.exit.status, 'exited', JSON.stringify(streamed.exit));
    assert.equal(streamed.exit.exitCode, 4);
    assert.equal(streamed.stdout.toString(), 'out\n');
    assert.equal(streamed.stderr.toString(), 'err\n');
    const info = await agent.call('sandbox/info', { sandboxId: sandbox.sandboxId });
    assert.equal(info.isolation, 'linux');
    assert.equal(info.usage.execCount, 2);
    await agent.call('sandbox/list', {});
    await agent.call('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  }
  assertTrafficValid(t, agent, assert);
});

test('line framing: an unknown sandbox is -32001', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  await agent.initialize();
  const calls = [
    ['sandbox/info', { sandboxId: 'sb-nope' }],
    ['sandbox/destroy', { sandboxId: 'sb-nope' }],
    ['exec/start', { sandboxId: 'sb-nope', argv: ['true'] }],
    ['exec/run', { sandboxId: 'sb-nope', argv: ['true'] }],
    ['exec/list', { sandboxId: 'sb-nope' }],
  ];
  for (const [method, params] of calls) {
    const error = await agent.callError(method, params);
    assert.equal(error.code, ErrorCode.SandboxNotFound, `${method}: ${JSON.stringify(error)}`);
    assert.equal(error.data?.sandboxId, 'sb-nope', `${method} names the sandbox`);
  }
  const sandbox = await agent.createSandbox();
  await agent.call('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  const gone = await agent.callError('sandbox/info', { sandboxId: sandbox.sandboxId });
  assert.equal(gone.code, ErrorCode.SandboxNotFound, 'a destroyed sandbox is unknown');
  assertTrafficValid(t, agent, assert);
});

test('line framing: sandbox/destroy kills running execs and reports their exit first', async (t) => {
  const { agent, sandboxId } = await session(t);
  const start = await agent.call('exec/start', { sandboxId, argv: ['sh', '-c', 'sleep 300 & sleep 300'] });
  const stat = procStat(start.pid);
  assert.ok(stat);
  const destroyResponse = await agent.request('sandbox/destroy', { sandboxId });
  assert.ok('result' in destroyResponse, JSON.stringify(destroyResponse));
  const exitIndex = agent.messages.findIndex((m) => m.method === 'exec/exit' && m.params.execId === start.execId);
  assert.ok(exitIndex >= 0 && exitIndex < agent.messages.indexOf(destroyResponse), 'exec/exit precedes the destroy reply');
  assert.equal(agent.messages[exitIndex].params.status, 'killed');
  await waitGone({ [start.pid]: stat.startTime });
  assertTrafficValid(t, agent, assert);
});
