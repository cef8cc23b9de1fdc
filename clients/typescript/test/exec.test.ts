// Execs in a linux sandbox through the client: streamed output, stdin,
// exit codes, kills, runs, cancellation, and output that races the answer.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { Agentd, AgentdError, CancellationTokenSource, ErrorCodes, type OutputChunk } from '../src/index.js';
import { linuxSandboxFor, PACKAGE_DIR, text, waitUntil } from './helpers.js';

test('exec/start streams output while the command runs, each stream in seq order', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const exec = await setup.sandbox.start(
    ['sh', '-c', 'echo first; read answer; for i in 1 2 3; do echo "line $i $answer"; done; echo oops >&2; exit 0'],
    { stdin: 'pipe' });
  assert.equal(typeof exec.id, 'string');
  assert.ok(Number.isInteger(exec.pid) && exec.pid! > 0, `pid ${exec.pid}`);

  const iterator = exec.events()[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal(first.done, false);
  assert.deepEqual(first.value.kind === 'output' && [first.value.stream, first.value.seq, text(first.value.data)],
    ['stdout', 0, 'first\n']);
  // The command waits for its input: the chunk above came while it was running.
  assert.equal(exec.exit, undefined, 'no exit before the command got its input');

  await exec.write('go\n', { eof: true });
  const chunks: OutputChunk[] = [first.value as OutputChunk];
  let exitEvents = 0;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    if (next.value.kind === 'exit') exitEvents += 1;
    else {
      assert.equal(exitEvents, 0, 'no output after the exit');
      chunks.push(next.value);
    }
  }
  assert.equal(exitEvents, 1, 'exactly one exit event, last');
  for (const stream of ['stdout', 'stderr'] as const) {
    const seqs = chunks.filter((c) => c.stream === stream).map((c) => c.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i), `${stream} seq runs 0, 1, 2, ...`);
  }
  const stdout = chunks.filter((c) => c.stream === 'stdout').map((c) => text(c.data)).join('');
  assert.equal(stdout, 'first\nline 1 go\nline 2 go\nline 3 go\n');
  assert.equal(chunks.filter((c) => c.stream === 'stderr').map((c) => text(c.data)).join(''), 'oops\n');

  const exit = await exec.wait();
  assert.equal(exit.status, 'exited');
  assert.equal(exit.exitCode, 0);
  assert.equal(exit.execId, exec.id);
  assert.equal(exit.sandboxId, setup.sandbox.id);
  assert.equal(exit.stdoutBytes, Buffer.byteLength(stdout));
  assert.equal(exit.stderrBytes, 5);
});

test('stdin: text and bytes written to cat come back, eof ends it', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const exec = await setup.sandbox.start(['cat'], { stdin: 'pipe' });
  const bytes = new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x0a]);
  assert.deepEqual(await exec.write('héllo\n'), { bytesWritten: 7 });
  assert.deepEqual(await exec.write(bytes), { bytesWritten: 6 });
  assert.deepEqual(await exec.write('bye', { eof: true }), { bytesWritten: 3 });
  const { stdout, stderr, exit } = await exec.collect();
  assert.deepEqual(Buffer.from(stdout), Buffer.concat([Buffer.from('héllo\n'), Buffer.from(bytes), Buffer.from('bye')]));
  assert.equal(stderr.length, 0);
  assert.equal(exit.status, 'exited');
  assert.equal(exit.exitCode, 0);

  // stdin is closed now (and the exec is gone): writes are refused with a code.
  const late = await exec.write('late').then(() => null, (e: unknown) => e);
  assert.ok(late instanceof AgentdError, `expected AgentdError, got ${late}`);
  assert.ok(([ErrorCodes.InvalidState, ErrorCodes.ExecNotFound] as number[]).includes(late.code), late.message);
});

test('non-zero exits from exec/start and exec/run, and a setup error', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const started = await setup.sandbox.start(['sh', '-c', 'echo bad >&2; exit 3']);
  const exit = await started.wait();
  assert.equal(exit.status, 'exited');
  assert.equal(exit.exitCode, 3);

  const run = await setup.sandbox.run(['sh', '-c', 'printf out; printf err >&2; exit 7']);
  assert.equal(run.status, 'exited');
  assert.equal(run.exitCode, 7);
  assert.equal(text(run.stdout), 'out');
  assert.equal(text(run.stderr), 'err');

  const missing = await setup.sandbox.start(['/no/such/program']);
  assert.equal(missing.pid, null);
  const setupExit = await missing.wait();
  assert.equal(setupExit.status, 'setupError');
  assert.match(setupExit.reason ?? '', /no\/such\/program/);
});

test('exec.kill ends a running exec with status killed; a second kill gets ExecNotFound', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const exec = await setup.sandbox.start(['sleep', '30']);
  assert.deepEqual(await exec.kill('TERM'), { execId: exec.id, signal: 'SIGTERM' });
  const exit = await exec.wait();
  assert.equal(exit.status, 'killed');
  assert.equal(exit.signalName, 'SIGTERM');
  assert.equal(exit.exitCode, undefined);

  const again = await exec.kill().then(() => null, (e: unknown) => e);
  assert.ok(again instanceof AgentdError, `expected AgentdError, got ${again}`);
  assert.equal(again.code, ErrorCodes.ExecNotFound);
  assert.equal(again.codeName, 'ExecNotFound');
  assert.equal(again.method, 'exec/kill');
  assert.equal(again.data?.execId, exec.id);
});

test('cancelling a long exec/run answers RequestCancelled and kills the command', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const { agentd, sandbox } = setup;
  const source = new CancellationTokenSource();
  const outcome = sandbox.run(['sleep', '30'], { token: source.token }).then((r) => r, (e: unknown) => e);

  const running = await waitUntil(async () => {
    const { execs } = await agentd.request('exec/list', { sandboxId: sandbox.id });
    return execs.find((e) => e.argv[0] === 'sleep' && e.pid !== null);
  }, 'the sleep in exec/list');
  source.cancel();
  const error = await outcome;
  assert.ok(error instanceof AgentdError, `expected AgentdError, got ${JSON.stringify(error)}`);
  assert.equal(error.code, ErrorCodes.RequestCancelled);
  assert.equal(error.method, 'exec/run');

  const { execs } = await agentd.request('exec/list', { sandboxId: sandbox.id });
  assert.deepEqual(execs.filter((e) => e.execId === running.execId), [], 'the cancelled exec has ended');
  // The connection goes on working.
  const after = await sandbox.run(['echo', 'still here']);
  assert.equal(text(after.stdout), 'still here\n');
});

test('output that arrives with the exec/start answer is kept for its exec', async (t) => {
  const setup = await linuxSandboxFor(t);
  if (!setup) return;
  const exitsSeen: string[] = [];
  const unsubscribe = setup.agentd.onNotification('exec/exit', (params) => exitsSeen.push(params.execId));
  // Many short execs started at once: their output and exits often arrive
  // in the same read as (or right after) the answers to exec/start.
  const execs = await Promise.all(Array.from({ length: 16 }, (_, i) => setup.sandbox.start(['echo', `exec ${i}`])));
  const results = await Promise.all(execs.map((exec) => exec.collect()));
  results.forEach((result, i) => {
    assert.equal(text(result.stdout), `exec ${i}\n`, `output of exec ${i}`);
    assert.equal(result.exit.status, 'exited');
    assert.equal(result.exit.execId, execs[i]!.id);
  });
  // onNotification sees the same exits, once each.
  assert.deepEqual([...exitsSeen].sort(), execs.map((e) => e.id).sort());
  unsubscribe();
  await (await setup.sandbox.start(['true'])).wait();
  assert.equal(exitsSeen.length, execs.length, 'no calls after unsubscribing');
});

test('output and exit sent before the exec/start answer are kept for the exec (fake server)', async (t) => {
  // agentd always answers exec/start first; this stand-in does not, so the
  // client's buffering by exec id is exercised deterministically.
  const fake = path.join(PACKAGE_DIR, 'test', 'fixtures', 'fake-agentd.mjs');
  const agentd = await Agentd.spawn({ path: process.execPath, args: [fake] });
  t.after(() => agentd.dispose());
  const sandbox = agentd.sandbox('sb-fake');
  const first = await sandbox.start(['echo', 'one']);
  const second = await sandbox.start(['echo', 'two']);
  for (const [exec, expected] of [[first, 'echo one\n'], [second, 'echo two\n']] as const) {
    assert.equal(exec.exit?.status, 'exited', `${exec.id}: the early exit was delivered`);
    const { stdout, exit } = await exec.collect();
    assert.equal(text(stdout), expected, `${exec.id}: the early output was kept`);
    assert.equal(exit.exitCode, 0);
  }
  assert.deepEqual(await agentd.dispose(), { code: 0, signal: null });
});
