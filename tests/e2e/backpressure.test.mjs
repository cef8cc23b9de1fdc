// A client that stops reading: agentd must stop reading the child's pipes
// instead of buffering without bound, then deliver everything, in order,
// once the client reads again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { AGENTD_BIN, LineParser, sleep, waitUntil } from './lib/agentd.mjs';

const rssBytes = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
};

test('a client that stops reading keeps agentd bounded and loses nothing', async (t) => {
  const total = 64 << 20;
  const child = spawn(AGENTD_BIN, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const messages = [];
  const parser = new LineParser((m) => messages.push(m));
  child.stdout.on('data', (chunk) => parser.push(chunk));
  const send = (id, method, params) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
  const reply = (id) => waitUntil(() => messages.find((m) => m.id === id), { timeoutMs: 20000, what: `reply ${id}` });

  send(1, 'initialize', {});
  await reply(1);
  send(2, 'sandbox/create', { isolation: 'none', limits: { maxOutputBytes: 2 * total } });
  const sandboxId = (await reply(2)).result.sandboxId;
  const baseline = rssBytes(child.pid);

  child.stdout.pause();  // the client stops reading
  send(3, 'exec/start', { sandboxId, argv: ['head', '-c', String(total), '/dev/zero'] });
  await sleep(3000);  // plenty of time to flood memory, were there no back-pressure
  const grown = rssBytes(child.pid) - baseline;
  assert.ok(grown < 32 << 20, `agentd grew by ${grown} bytes while the client did not read`);

  child.stdout.resume();
  const exit = await waitUntil(() => messages.find((m) => m.method === 'exec/exit'), { timeoutMs: 60000, what: 'exec/exit' });
  const outputs = messages.filter((m) => m.method === 'exec/output' && m.params.stream === 'stdout');
  outputs.forEach((m, i) => assert.equal(m.params.seq, i, 'seq in order, none missing'));
  const received = outputs.reduce((n, m) => n + Buffer.from(m.params.data, 'base64').length, 0);
  assert.equal(received, total, 'every byte arrived');
  assert.equal(exit.params.status, 'exited', JSON.stringify(exit.params));
  assert.equal(exit.params.stdoutBytes, total);
});
