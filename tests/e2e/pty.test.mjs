// A shell driven through a pseudo-terminal, on both backends: type a command,
// read its echo and output, resize, end the session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentdFor, assertTrafficValid, waitUntil } from './lib/agentd.mjs';

async function driveShell(t, isolation) {
  const agent = agentdFor(t, { framing: 'line' });
  const init = await agent.initialize();
  const backend = init.backends.find((b) => b.isolation === isolation);
  if (!backend?.available) {
    t.skip(`${isolation} unavailable: ${backend?.reason}`);
    return;
  }
  const sandbox = await agent.call('sandbox/create', { isolation });
  const { execId } = await agent.call('exec/start', {
    sandboxId: sandbox.sandboxId, argv: ['sh', '-i'], pty: { cols: 100, rows: 30 }, encoding: 'utf8',
  });
  const screen = () => agent.notifications('exec/output', (p) => p.execId === execId)
    .map((m) => m.params.data).join('');
  await agent.call('exec/write', { execId, text: 'echo typed-$((6*7)); tty; stty size\n' });
  await waitUntil(() => /typed-42\r?\n/.test(screen()) && /\d+ \d+\r?\n/.test(screen()),
    { timeoutMs: 20000, what: 'the command output on the pty' });
  assert.match(screen(), /echo typed-\$\(\(6\*7\)\)/, 'the terminal echoes what was typed');
  assert.match(screen(), /\/dev\/pts\/\d+/, 'stdin is a terminal');
  assert.match(screen(), /30 100/, 'the size given at start');
  await agent.call('exec/resize', { execId, cols: 120, rows: 40 });
  await agent.call('exec/write', { execId, text: 'stty size; exit 7\n' });
  const exit = await agent.waitForNotification('exec/exit', (p) => p.execId === execId, { timeoutMs: 20000 });
  assert.match(screen(), /40 120/, 'the resize reached the terminal');
  assert.equal(exit.params.status, 'exited', JSON.stringify(exit.params));
  assert.equal(exit.params.exitCode, 7);
  for (const m of agent.notifications('exec/output', (p) => p.execId === execId)) assert.equal(m.params.stream, 'pty');
  const noPty = await agent.callError('exec/resize', { execId: 'ex-404', cols: 10, rows: 10 });
  assert.equal(noPty.code, -32003);
  await agent.call('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  assertTrafficValid(t, agent, assert);
}

test('pty: sh -i on host-direct', (t) => driveShell(t, 'none'));
test('pty: sh -i in a linux sandbox', (t) => driveShell(t, 'linux'));
