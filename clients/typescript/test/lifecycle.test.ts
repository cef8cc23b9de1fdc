// Starting and ending agentd: handshake, dispose with and without a
// cooperative agentd, and a missing binary.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Agentd, AgentdError, ClientErrorCodes } from '../src/index.js';
import {
  AGENTD_BIN, agentdFor, isRunning, missingBinaryReason, processId, processTree, waitUntil,
} from './helpers.js';

test('spawn completes the handshake and reports the backends', async (t) => {
  const agentd = await agentdFor(t);
  if (!agentd) return;
  assert.equal(agentd.initializeResult.serverInfo.name, 'agentd');
  assert.equal(agentd.initializeResult.capabilities.framing, 'content-length');
  assert.ok(agentd.backend('host-direct'), 'host-direct is listed');
  assert.ok(agentd.backend('linux'), 'linux is listed (available or not)');
});

test('dispose shuts agentd down and leaves none of its processes behind', async (t) => {
  const missing = missingBinaryReason();
  if (missing) return t.skip(missing);
  const agentd = await Agentd.spawn({ path: AGENTD_BIN });
  const linux = agentd.backend('linux');
  const sandbox = await agentd.createSandbox(linux?.available ? { isolation: 'linux' } : { isolation: 'none' });
  const exec = await sandbox.start(['sleep', '30']);
  const tree = processTree(agentd.pid);
  assert.ok(tree.length >= 2, `agentd has its exec (and helpers) below it: ${JSON.stringify(tree)}`);

  const status = await agentd.dispose();
  assert.deepEqual(status, { code: 0, signal: null }, agentd.stderrTail);
  assert.deepEqual(await agentd.dispose(), status, 'a second dispose answers the same');
  await waitUntil(() => tree.every((p) => !isRunning(p)),
    `agentd and its processes to be gone (${tree.filter(isRunning).map((p) => p.pid).join(', ')})`);

  // agentd sends no exec/exit for execs it kills on its way out.
  const error = await exec.wait().then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AgentdError, `expected AgentdError, got ${JSON.stringify(error)}`);
  assert.equal(error.code, ClientErrorCodes.ConnectionClosed);
  const late = await sandbox.info().then(() => null, (e: unknown) => e);
  assert.ok(late instanceof AgentdError);
  assert.equal(late.code, ClientErrorCodes.ConnectionClosed);
});

test('dispose kills an agentd that does not answer shutdown', async (t) => {
  const missing = missingBinaryReason();
  if (missing) return t.skip(missing);
  const agentd = await Agentd.spawn({ path: AGENTD_BIN, shutdownTimeoutMs: 300 });
  const self = processId(agentd.pid)!;
  process.kill(agentd.pid, 'SIGSTOP'); // it can neither answer nor exit on its own
  t.after(() => { try { process.kill(self.pid, 'SIGKILL'); } catch { /* gone */ } });
  const status = await agentd.dispose();
  assert.deepEqual(status, { code: null, signal: 'SIGKILL' });
  await waitUntil(() => !isRunning(self), 'the killed agentd to be gone');
});

test('await using disposes agentd at the end of the block', async (t) => {
  const missing = missingBinaryReason();
  if (missing) return t.skip(missing);
  let self;
  {
    await using agentd = await Agentd.spawn({ path: AGENTD_BIN });
    self = processId(agentd.pid)!;
    assert.ok(isRunning(self));
  }
  await waitUntil(() => !isRunning(self), 'agentd to be gone after the block');
});

test('a missing binary is SpawnFailed, naming the path and the fix', async () => {
  const error = await Agentd.spawn({ path: '/nonexistent/agentd' }).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AgentdError, `expected AgentdError, got ${error}`);
  assert.equal(error.code, ClientErrorCodes.SpawnFailed);
  assert.match(error.message, /\/nonexistent\/agentd.*ENOENT.*AGENTD_BIN/);
});

test('an agentd that ends during the handshake is SpawnFailed, with the end of its log', async (t) => {
  const missing = missingBinaryReason();
  if (missing) return t.skip(missing);
  const error = await Agentd.spawn({ path: AGENTD_BIN, args: ['--no-such-option'] }).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AgentdError, `expected AgentdError, got ${error}`);
  assert.equal(error.code, ClientErrorCodes.SpawnFailed);
  assert.equal(error.method, 'initialize');
  assert.match(error.message, /ended before answering initialize: agentd exited \(status \d+\).*--no-such-option/);
});
