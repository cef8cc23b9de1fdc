// Issue 7 from a Node client: a linux sandbox with network "allowlist"
// reaches an allowed local test server through agentd's proxy, fails to
// reach another, and the client receives sandbox/violation notifications
// naming the refused destination and the syscall an attack program was
// denied. Every message is checked against the schema.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { ErrorCode, agentdFor, assertTrafficValid } from './lib/agentd.mjs';

// An HTTP server on the host's loopback answering "hello from <name>".
async function startServer(t, name) {
  let hits = 0;
  const server = http.createServer((req, res) => { hits += 1; res.end(`hello from ${name}`); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { port: server.address().port, hits: () => hits };
}

// Inside the sandbox: a CONNECT through $HTTPS_PROXY (what npm, pip and
// curl do for https), then a plain GET through the tunnel.
const fetchThroughProxy = `
const http = require('http');
const [host, port] = process.argv.slice(1);
const proxy = new URL(process.env.HTTPS_PROXY);
const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: host + ':' + port });
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.log('refused ' + res.statusCode); process.exit(3); }
  socket.write('GET / HTTP/1.0\\r\\nHost: ' + host + '\\r\\n\\r\\n');
  let body = '';
  socket.on('data', (d) => { body += d; });
  socket.on('end', () => { console.log(body.split('\\r\\n\\r\\n')[1]); process.exit(0); });
});
req.on('error', (e) => { console.log('error ' + e.message); process.exit(4); });
req.end();
`;

async function linuxAgent(t) {
  const agent = agentdFor(t, { framing: 'line' });
  const init = await agent.initialize();
  const linux = init.backends.find((b) => b.isolation === 'linux');
  if (!linux?.available) {
    t.skip(`linux backend unavailable: ${linux?.reason}`);
    return {};
  }
  return { agent, linux };
}

test('linux allowlist: allowed server reached, other refused, violations for the destination and a denied syscall', async (t) => {
  const { agent, linux } = await linuxAgent(t);
  if (!agent) return;
  const allowed = await startServer(t, 'allowed');
  const other = await startServer(t, 'other');
  const sandbox = await agent.createSandbox({
    isolation: 'linux',
    network: { mode: 'allowlist', allow: [`127.0.0.1:${allowed.port}`] },
  });
  const id = sandbox.sandboxId;
  assert.equal(sandbox.network, 'allowlist');
  assert.equal(sandbox.capabilities.networkAllowlist?.state, 'enforced', JSON.stringify(sandbox.capabilities));
  const run = (argv) => agent.call('exec/run', { sandboxId: id, argv, encoding: 'utf8' }, { timeoutMs: 60000 });

  const reached = await run(['node', '-e', fetchThroughProxy, '127.0.0.1', String(allowed.port)]);
  assert.equal(reached.stdout.trim(), 'hello from allowed', JSON.stringify(reached));

  const refused = await run(['node', '-e', fetchThroughProxy, '127.0.0.1', String(other.port)]);
  assert.match(refused.stdout, /^refused 403/, JSON.stringify(refused));
  const network = await agent.waitForNotification('sandbox/violation', (p) => p.kind === 'network');
  assert.equal(network.params.sandboxId, id);
  assert.match(network.params.detail, new RegExp(`127\\.0\\.0\\.1:${other.port}`));
  // The process holding the refused connection, found by its socket: the node of that exec.
  assert.ok(network.params.pid > 1, JSON.stringify(network.params));
  assert.equal(network.params.execId, refused.execId, JSON.stringify(network.params));

  assert.equal(allowed.hits(), 1);
  assert.equal(other.hits(), 0, 'the refused server was never contacted');

  // Syscall reports depend on the kernel (initialize says): where offered, the sandbox must have them.
  if (linux.features['violationReports.syscall']?.state === 'available') {
    assert.equal(sandbox.capabilities['violationReports.syscall']?.state, 'enforced',
      JSON.stringify(sandbox.capabilities['violationReports.syscall']));
    // unshare(CLONE_NEWUSER) is refused by the seccomp filter.
    const attack = await agent.call('exec/start', { sandboxId: id, argv: ['unshare', '-U', 'true'] });
    const exit = await agent.waitForNotification('exec/exit', (p) => p.execId === attack.execId);
    assert.notEqual(exit.params.exitCode, 0, JSON.stringify(exit.params));
    // Filtered by exec: other programs may probe denied syscalls too (io_uring).
    const syscall = await agent.waitForNotification('sandbox/violation',
      (p) => p.kind === 'syscall' && p.execId === attack.execId);
    assert.equal(syscall.params.detail, 'unshare');
    assert.equal(syscall.params.execId, attack.execId);
    assert.ok(syscall.params.pid > 1, JSON.stringify(syscall.params));
  } else {
    t.diagnostic(`syscall reports not offered here: ${linux.features['violationReports.syscall']?.reason}`);
  }

  const info = await agent.call('sandbox/info', { sandboxId: id });
  assert.equal(info.network, 'allowlist');
  assert.ok(info.violations.network >= 1, JSON.stringify(info.violations));
  const egress = Object.fromEntries(info.egress.map((e) => [e.destination, e]));
  assert.equal(egress[`127.0.0.1:${allowed.port}`]?.allowed, 1, JSON.stringify(info.egress));
  assert.equal(egress[`127.0.0.1:${other.port}`]?.refused, 1, JSON.stringify(info.egress));
  await agent.call('sandbox/destroy', { sandboxId: id });
  assertTrafficValid(t, agent, assert);
});

test('allowlist: a bad rule fails sandbox/create naming it; host-direct cannot enforce an allowlist', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  await agent.initialize();
  const bad = await agent.callError('sandbox/create', {
    isolation: 'linux', network: { mode: 'allowlist', allow: ['ok.example.com', 'bad host:99999'] },
  });
  assert.equal(bad.code, ErrorCode.InvalidParams);
  assert.match(bad.message, /params\.network/);
  assert.match(bad.message, /bad host:99999/);
  const host = await agent.callError('sandbox/create', {
    isolation: 'none', network: { mode: 'allowlist', allow: ['registry.npmjs.org'] },
  });
  assert.equal(host.code, ErrorCode.FeatureUnavailable);
  assertTrafficValid(t, agent, assert);
});
