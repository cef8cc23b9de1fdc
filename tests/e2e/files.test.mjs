// The file methods (fs/*) and snapshots, from a Node client, in both kinds of
// sandbox: read, write, list, edit, traversal refused, snapshot and restore.
// Every message is checked against the schema.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ErrorCode, agentdFor, assertTrafficValid } from './lib/agentd.mjs';

// A started agentd and a sandbox of `isolation`, or null (test skipped)
// when the linux backend is unavailable here.
async function setup(t, isolation) {
  const agent = agentdFor(t, { framing: 'line' });
  const init = await agent.initialize();
  if (isolation === 'linux') {
    const linux = init.backends.find((b) => b.isolation === 'linux');
    if (!linux?.available) {
      t.skip(`linux backend unavailable: ${linux?.reason}`);
      return null;
    }
  }
  const sandbox = await agent.createSandbox({ isolation });
  return { agent, sandbox, id: sandbox.sandboxId };
}

const b64 = (text) => Buffer.from(text).toString('base64');

for (const isolation of ['none', 'linux']) {
  test(`${isolation}: write, read, list, stat, edit, move and remove files`, async (t) => {
    const s = await setup(t, isolation);
    if (!s) return;
    const { agent, id, sandbox } = s;

    const written = await agent.call('fs/write', { sandboxId: id, path: 'src/main.py', text: 'print("hi")\n', createParents: true });
    assert.equal(written.bytesWritten, 12);
    // The file is where a process of the sandbox finds it.
    const run = await agent.call('exec/run', { sandboxId: id, argv: ['cat', 'src/main.py'], encoding: 'utf8' });
    assert.equal(run.stdout, 'print("hi")\n');
    assert.equal(fs.readFileSync(path.join(sandbox.workdir, 'src/main.py'), 'utf8'), 'print("hi")\n');

    const read = await agent.call('fs/read', { sandboxId: id, path: 'src/main.py', encoding: 'utf8' });
    assert.deepEqual(read, { data: 'print("hi")\n', encoding: 'utf8', size: 12, eof: true });
    const part = await agent.call('fs/read', { sandboxId: id, path: 'src/main.py', offset: 5, length: 4 });
    assert.equal(Buffer.from(part.data, 'base64').toString(), '("hi');
    assert.equal(part.eof, false);

    // Binary data, permissions, append.
    await agent.call('fs/write', { sandboxId: id, path: 'bin.dat', data: Buffer.from([0, 255, 1]).toString('base64'), permissions: 0o600 });
    const bin = await agent.call('fs/read', { sandboxId: id, path: 'bin.dat' });
    assert.deepEqual([...Buffer.from(bin.data, 'base64')], [0, 255, 1]);
    await agent.call('fs/write', { sandboxId: id, path: 'log.txt', text: 'a', mode: 'append' });
    await agent.call('fs/write', { sandboxId: id, path: 'log.txt', data: b64('b'), mode: 'append' });
    assert.equal((await agent.call('fs/read', { sandboxId: id, path: 'log.txt', encoding: 'utf8' })).data, 'ab');
    const exists = await agent.callError('fs/write', { sandboxId: id, path: 'log.txt', text: 'x', mode: 'create' });
    assert.equal(exists.code, ErrorCode.OperationFailed ?? -32008);
    assert.equal(exists.data.errno, 'EEXIST');

    // Edit: read, change, overwrite.
    const text = (await agent.call('fs/read', { sandboxId: id, path: 'src/main.py', encoding: 'utf8' })).data;
    await agent.call('fs/write', { sandboxId: id, path: 'src/main.py', text: text.replace('hi', 'bye') });
    assert.equal((await agent.call('fs/read', { sandboxId: id, path: 'src/main.py', encoding: 'utf8' })).data, 'print("bye")\n');

    const listed = await agent.call('fs/list', { sandboxId: id });
    assert.deepEqual(listed.entries.map((e) => `${e.name}:${e.type}`), ['bin.dat:file', 'log.txt:file', 'src:dir']);
    assert.equal(listed.entries[0].mode, 0o600);
    assert.equal(listed.truncated, false);
    const stat = await agent.call('fs/stat', { sandboxId: id, path: 'src/main.py' });
    assert.equal(stat.type, 'file');
    assert.equal(stat.size, 13);

    await agent.call('fs/mkdir', { sandboxId: id, path: 'a/b/c', parents: true });
    await agent.call('fs/move', { sandboxId: id, from: 'src/main.py', to: 'a/b/c/main.py' });
    assert.equal((await agent.call('fs/stat', { sandboxId: id, path: 'a/b/c/main.py' })).size, 13);
    const notEmpty = await agent.callError('fs/remove', { sandboxId: id, path: 'a' });
    assert.equal(notEmpty.data.errno, 'ENOTEMPTY');
    await agent.call('fs/remove', { sandboxId: id, path: 'a', recursive: true });
    const gone = await agent.callError('fs/stat', { sandboxId: id, path: 'a' });
    assert.equal(gone.code, -32008);
    assert.deepEqual(gone.data, { errno: 'ENOENT', path: 'a' });

    assertTrafficValid(t, agent, assert);
  });

  test(`${isolation}: traversal and bad paths are refused`, async (t) => {
    const s = await setup(t, isolation);
    if (!s) return;
    const { agent, id, sandbox } = s;
    fs.symlinkSync('/etc/passwd', path.join(sandbox.workdir, 'abs-link'));
    for (const p of ['../../etc/passwd', 'allowed/../../../etc/passwd']) {
      const error = await agent.callError('fs/read', { sandboxId: id, path: p });
      assert.equal(error.code, -32602, p);
      assert.match(error.message, /^params\.path: /);
    }
    // The path of a linux sandbox is its own /etc/shadow (absent); host-direct refuses it.
    const shadow = await agent.callError('fs/read', { sandboxId: id, path: '/etc/shadow' });
    assert.ok([-32602, -32008].includes(shadow.code));
    // host-direct: the link leads out (-32602); linux: it resolves in the
    // sandbox's root, to the sandbox's own /etc/passwd, never the host's.
    const link = await agent.request('fs/read', { sandboxId: id, path: 'abs-link', encoding: 'utf8' });
    if (isolation === 'none') assert.equal(link.error?.code, -32602, JSON.stringify(link));
    else assert.notEqual(link.result?.data, fs.readFileSync('/etc/passwd', 'utf8'));
    const nul = await agent.callError('fs/read', { sandboxId: id, path: 'a\u0000b' });
    assert.equal(nul.code, -32602);
    const encoded = await agent.callError('fs/read', { sandboxId: id, path: '%2e%2e%2fetc%2fpasswd' });
    assert.equal(encoded.data.errno, 'ENOENT');
    const both = await agent.callError('fs/write', { sandboxId: id, path: 'x', text: 'a', data: b64('a') });
    assert.equal(both.code, -32602);
    const unknown = await agent.callError('fs/read', { sandboxId: id, path: 'x', lenght: 3 });
    assert.equal(unknown.code, -32602);
    if (isolation === 'linux') {
      const ro = await agent.callError('fs/write', { sandboxId: id, path: '/usr/agentd-e2e', text: 'x' });
      assert.equal(ro.data.errno, 'EROFS');
      const tmp = await agent.call('fs/write', { sandboxId: id, path: '/tmp/inside', text: 'in' });
      assert.equal(tmp.bytesWritten, 2);
    }
    assertTrafficValid(t, agent, assert);
  });

  test(`${isolation}: snapshot, change, restore, and a new sandbox from the snapshot`, async (t) => {
    const s = await setup(t, isolation);
    if (!s) return;
    const { agent, id } = s;
    await agent.call('fs/write', { sandboxId: id, path: 'state.txt', text: 'v1' });
    const snap = await agent.call('sandbox/snapshot', { sandboxId: id, name: 'before' });
    assert.equal(snap.name, 'before');
    assert.equal(snap.sizeBytes, 2);
    assert.ok(['reflink', 'copy'].includes(snap.method));

    await agent.call('fs/write', { sandboxId: id, path: 'state.txt', text: 'v2' });
    await agent.call('fs/write', { sandboxId: id, path: 'extra.txt', text: 'x' });
    const restored = await agent.call('sandbox/restore', { sandboxId: id, snapshotId: snap.snapshotId });
    assert.equal(restored.snapshotId, snap.snapshotId);
    assert.equal((await agent.call('fs/read', { sandboxId: id, path: 'state.txt', encoding: 'utf8' })).data, 'v1');
    assert.deepEqual((await agent.call('fs/list', { sandboxId: id })).entries.map((e) => e.name), ['state.txt']);

    // Running execs: refused, unless stopProcesses.
    const { execId } = await agent.call('exec/start', { sandboxId: id, argv: ['sleep', '30'] });
    const busy = await agent.callError('sandbox/restore', { sandboxId: id, snapshotId: snap.snapshotId });
    assert.equal(busy.code, ErrorCode.InvalidState ?? -32006);
    assert.deepEqual(busy.data.execs, [execId]);
    await agent.call('sandbox/restore', { sandboxId: id, snapshotId: snap.snapshotId, stopProcesses: true });
    const list = await agent.call('exec/list', {});
    assert.equal(list.execs.length, 0);

    const copy = await agent.call('sandbox/create', { isolation, fromSnapshot: snap.snapshotId });
    const run = await agent.call('exec/run', { sandboxId: copy.sandboxId, argv: ['cat', 'state.txt'], encoding: 'utf8' });
    assert.equal(run.stdout, 'v1');
    // Changing the copy leaves the snapshot as it was.
    await agent.call('exec/run', { sandboxId: copy.sandboxId, argv: ['sh', '-c', 'echo changed > state.txt'] });
    await agent.call('sandbox/restore', { sandboxId: copy.sandboxId, snapshotId: snap.snapshotId });
    assert.equal((await agent.call('fs/read', { sandboxId: copy.sandboxId, path: 'state.txt', encoding: 'utf8' })).data, 'v1');

    const listed = await agent.call('snapshot/list', {});
    assert.deepEqual(listed.snapshots.map((x) => x.snapshotId), [snap.snapshotId]);
    assert.deepEqual(await agent.call('snapshot/delete', { snapshotId: snap.snapshotId }), { snapshotId: snap.snapshotId, deleted: true });
    const missing = await agent.callError('sandbox/create', { isolation, fromSnapshot: snap.snapshotId });
    assert.equal(missing.code, -32602);
    assertTrafficValid(t, agent, assert);
  });
}
