// agentd driven by a real LSP-style client library: vscode-jsonrpc over
// Content-Length framing, including its $/cancelRequest cancellation.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  CancellationTokenSource,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from 'vscode-jsonrpc/node';

import {
  ErrorCode, agentdFor, assertTrafficValid, isAlive, procStat, waitGone, waitUntil,
} from './lib/agentd.mjs';

// agentd plus a vscode-jsonrpc connection to it. agentd's raw output is also
// parsed by the helper (to validate every message against the schema).
function connect(t) {
  const agent = agentdFor(t, { framing: 'content-length' });
  const connection = createMessageConnection(
    new StreamMessageReader(agent.proc.stdout),
    new StreamMessageWriter(agent.libraryInput()),
  );
  const events = [];
  connection.onNotification('exec/output', (params) => events.push({ method: 'exec/output', params }));
  connection.onNotification('exec/exit', (params) => events.push({ method: 'exec/exit', params }));
  connection.onError(([error]) => events.push({ method: 'connection error', params: String(error) }));
  connection.listen();
  t.after(() => connection.dispose());
  return { agent, connection, events };
}

test('vscode-jsonrpc: initialize, streamed exec, destroy, shutdown, exit', async (t) => {
  const { agent, connection, events } = connect(t);

  const init = await connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'vscode-jsonrpc-e2e', version: '1' },
  });
  assert.equal(init.serverInfo.name, 'agentd');
  assert.equal(init.capabilities.framing, 'content-length');
  await connection.sendNotification('initialized', {});

  const sandbox = await connection.sendRequest('sandbox/create', { isolation: 'none' });
  assert.equal(sandbox.isolation, 'none');
  assert.match(sandbox.sandboxId, /\S/);

  const started = await connection.sendRequest('exec/start', {
    sandboxId: sandbox.sandboxId,
    argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
  });
  assert.equal(typeof started.execId, 'string');
  assert.ok(Number.isInteger(started.pid) && started.pid > 0, `pid ${started.pid}`);

  await waitUntil(() => events.some((e) => e.method === 'exec/exit' && e.params.execId === started.execId), {
    timeoutMs: 20000,
    what: 'exec/exit',
  });

  const mine = events.filter((e) => e.params?.execId === started.execId);
  const exits = mine.filter((e) => e.method === 'exec/exit');
  const outputs = mine.filter((e) => e.method === 'exec/output').map((e) => e.params);
  assert.equal(exits.length, 1, 'exactly one exec/exit');
  assert.equal(mine[mine.length - 1].method, 'exec/exit', 'exec/exit comes after all output');

  const text = {};
  for (const stream of ['stdout', 'stderr']) {
    const chunks = outputs.filter((p) => p.stream === stream);
    assert.deepEqual(chunks.map((p) => p.seq), chunks.map((_, i) => i), `${stream} seq runs 0, 1, 2, ... in order`);
    for (const p of chunks) assert.equal(p.encoding, 'base64');
    text[stream] = Buffer.concat(chunks.map((p) => Buffer.from(p.data, 'base64')));
  }
  assert.equal(text.stdout.toString(), 'out\n');
  assert.equal(text.stderr.toString(), 'err\n');

  const exit = exits[0].params;
  assert.equal(exit.status, 'exited');
  assert.equal(exit.exitCode, 3);
  assert.equal(exit.sandboxId, sandbox.sandboxId);
  assert.equal(exit.stdoutBytes, text.stdout.length);
  assert.equal(exit.stderrBytes, text.stderr.length);
  assert.equal(exit.truncated, false);
  assert.ok(Number.isInteger(exit.durationMs) && exit.durationMs >= 0);

  const destroyed = await connection.sendRequest('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  assert.equal(destroyed.workdirRemoved, true);
  // destroyed.sandboxId: see the todo test below.

  assert.equal(await connection.sendRequest('shutdown'), null);
  await connection.sendNotification('exit');
  const status = await agent.waitExit();
  assert.deepEqual(status, { code: 0, signal: null }, agent.diagnostics());

  // A second exec/exit would have arrived before shutdown's reply.
  assert.equal(events.filter((e) => e.method === 'exec/exit').length, 1);
  assert.deepEqual(events.filter((e) => e.method === 'connection error'), []);
  assertTrafficValid(t, agent, assert);
});

test('vscode-jsonrpc: cancelling exec/run answers -32800 and kills the process', async (t) => {
  const { agent, connection } = connect(t);
  await connection.sendRequest('initialize', { clientInfo: { name: 'vscode-jsonrpc-e2e', version: '1' } });
  await connection.sendNotification('initialized', {});
  const sandbox = await connection.sendRequest('sandbox/create', { isolation: 'none' });

  const source = new CancellationTokenSource();
  const run = connection.sendRequest('exec/run', { sandboxId: sandbox.sandboxId, argv: ['sleep', '30'] }, source.token);
  const outcome = run.then((result) => ({ result }), (error) => ({ error }));

  const exec = await waitUntil(async () => {
    const { execs } = await connection.sendRequest('exec/list', { sandboxId: sandbox.sandboxId });
    return execs.find((e) => e.argv[0] === 'sleep' && e.pid);
  }, { timeoutMs: 10000, what: 'the sleep in exec/list' });
  const stat = procStat(exec.pid);
  assert.ok(stat && isAlive(exec.pid, stat.startTime), `pid ${exec.pid} runs before the cancel`);

  source.cancel();
  const { result, error } = await outcome;
  assert.equal(result, undefined, `exec/run should have been cancelled, got ${JSON.stringify(result)}`);
  assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${error}`);
  assert.equal(error.code, ErrorCode.RequestCancelled);

  await waitGone({ [exec.pid]: stat.startTime }, { timeoutMs: 10000, what: 'the cancelled sleep' });
  const { execs } = await connection.sendRequest('exec/list', { sandboxId: sandbox.sandboxId });
  assert.deepEqual(execs, [], 'the cancelled exec is no longer listed');

  // The connection goes on working after a cancellation.
  const again = await connection.sendRequest('exec/run', { sandboxId: sandbox.sandboxId, argv: ['echo', 'still here'] });
  assert.equal(Buffer.from(again.stdout, 'base64').toString(), 'still here\n');
  assert.equal(again.status, 'exited');

  assert.equal(await connection.sendRequest('shutdown'), null);
  await connection.sendNotification('exit');
  assert.deepEqual(await agent.waitExit(), { code: 0, signal: null });
  assertTrafficValid(t, agent, assert);
});

test('vscode-jsonrpc: sandbox/destroy of an idle sandbox names it in the result', async (t) => {
  const { agent, connection } = connect(t);
  await connection.sendRequest('initialize', {});
  await connection.sendNotification('initialized', {});
  const sandbox = await connection.sendRequest('sandbox/create', { isolation: 'none' });
  const destroyed = await connection.sendRequest('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  assert.deepEqual(destroyed, { sandboxId: sandbox.sandboxId, workdirRemoved: true });
  await agent.dispose();
});
