// Sandboxes and files through the client: fs round trips, error codes,
// destroy and `await using`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AgentdError, ErrorCodes } from '../src/index.js';
import { agentdFor, linuxSandboxFor, text } from './helpers.js';

test('fs: bytes and text written, listed, stat-ed and read back, also seen by commands', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const { sandbox } = setup;
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(await sandbox.writeFile('dir/sub/all.bin', bytes, { createParents: true }), 256);
  assert.equal(await sandbox.writeFile('dir/sub/note.txt', 'grüße\n'), Buffer.byteLength('grüße\n'));

  assert.deepEqual(Buffer.from(await sandbox.readFile('dir/sub/all.bin')), Buffer.from(bytes));
  assert.equal(await sandbox.readTextFile('/workspace/dir/sub/note.txt'), 'grüße\n');

  const listing = await sandbox.listDir('dir/sub');
  assert.equal(listing.truncated, false);
  assert.deepEqual(listing.entries.map((e) => [e.name, e.type, e.size]),
    [['all.bin', 'file', 256], ['note.txt', 'file', Buffer.byteLength('grüße\n')]]);
  const stat = await sandbox.stat('dir/sub');
  assert.equal(stat.type, 'dir');

  const seen = await sandbox.run(['cat', 'dir/sub/note.txt']);
  assert.equal(text(seen.stdout), 'grüße\n');

  await sandbox.move('dir/sub/note.txt', 'dir/moved.txt');
  await sandbox.remove('dir/sub', { recursive: true });
  assert.deepEqual((await sandbox.listDir('dir')).entries.map((e) => e.name), ['moved.txt']);

  const missing = await sandbox.readFile('dir/sub/all.bin').then(() => null, (e: unknown) => e);
  assert.ok(missing instanceof AgentdError, `expected AgentdError, got ${missing}`);
  assert.equal(missing.code, ErrorCodes.OperationFailed);
  assert.equal(missing.data?.errno, 'ENOENT');
});

test('an unknown sandbox is SandboxNotFound (-32001) with data.sandboxId', async (t) => {
  const agentd = await agentdFor(t);
  if (!agentd) return;
  const error = await agentd.sandbox('sb-does-not-exist').run(['true']).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AgentdError, `expected AgentdError, got ${error}`);
  assert.equal(error.code, -32001);
  assert.equal(error.code, ErrorCodes.SandboxNotFound);
  assert.equal(error.method, 'exec/run');
  assert.deepEqual(error.data, { sandboxId: 'sb-does-not-exist' });
  assert.match(error.message, /^exec\/run: .*sb-does-not-exist.*\(SandboxNotFound, -32001\)$/);
});

test('destroy kills running execs first, then the sandbox is gone', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const { agentd, sandbox } = setup;
  const exec = await sandbox.start(['sleep', '30']);
  const destroyed = await sandbox.destroy();
  assert.equal(destroyed.workdirRemoved, true);
  // Its exit came before the destroy answer, so it is already there.
  assert.equal(exec.exit?.status, 'killed');
  assert.equal((await exec.wait()).status, 'killed');
  assert.deepEqual((await agentd.listSandboxes()).map((s) => s.sandboxId).filter((id) => id === sandbox.id), []);
  const error = await sandbox.info().then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AgentdError);
  assert.equal(error.code, ErrorCodes.SandboxNotFound);
});

test('await using destroys the sandbox at the end of the block', async (t) => {
  const agentd = await agentdFor(t);
  if (!agentd) return;
  const linux = agentd.backend('linux');
  if (!linux?.available) {
    t.skip(`linux backend unavailable: ${linux?.reason}`);
    return;
  }
  let id: string;
  {
    await using sandbox = await agentd.createSandbox({ isolation: 'linux' });
    id = sandbox.id;
    assert.deepEqual((await agentd.listSandboxes()).map((s) => s.sandboxId), [id]);
  }
  assert.deepEqual((await agentd.listSandboxes()).map((s) => s.sandboxId), []);
});
