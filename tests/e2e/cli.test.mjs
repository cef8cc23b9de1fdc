// The human command line: `agentd probe`, `agentd run` and `agentd self-test`
// driven as a person would, checking streams and exit statuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { AGENTD_BIN } from './lib/agentd.mjs';

// Runs agentd with `args` to its end; its stdout, stderr and exit status.
function agentd(args, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(AGENTD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`agentd ${args.join(' ')}: no exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

async function probe() {
  const r = await agentd(['probe', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function linuxOrSkip(t) {
  const linux = (await probe()).backends.find((b) => b.isolation === 'linux');
  if (!linux.available) t.skip(`linux backend unavailable here: ${linux.reason}`);
  return linux.available;
}

test('--help lists the subcommands', async () => {
  const r = await agentd(['--help']);
  assert.equal(r.code, 0);
  for (const name of ['probe', 'run', 'self-test']) assert.match(r.stdout, new RegExp(`\\b${name}\\b`));
});

test('probe --json lists host-direct and linux with their features', async () => {
  const { backends } = await probe();
  assert.deepEqual(backends.map((b) => b.name).sort(), ['host-direct', 'linux']);
  for (const b of backends) {
    assert.equal(typeof b.available, 'boolean');
    assert.ok(Object.keys(b.features).length > 0, `${b.name} lists features`);
  }
  const table = await agentd(['probe']);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^host-direct .*: available/m);
  assert.match(table.stdout, /^linux /m);
});

test('run streams stdout and stderr apart and exits with the command\'s code', async (t) => {
  if (!(await linuxOrSkip(t))) return;
  const r = await agentd(['run', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /^err$/m);
  assert.doesNotMatch(r.stderr, /^out$/m);
});

test('run: a signaled command exits 128+signal', async (t) => {
  if (!(await linuxOrSkip(t))) return;
  const r = await agentd(['run', '--', 'sh', '-c', 'kill -9 $$']);
  assert.equal(r.code, 128 + 9);
});

test('run: /etc/shadow cannot be read in a linux sandbox', async (t) => {
  if (!(await linuxOrSkip(t))) return;
  const r = await agentd(['run', '--', 'cat', '/etc/shadow']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
});

test('run --timeout-ms exits 124 like coreutils timeout', async (t) => {
  if (!(await linuxOrSkip(t))) return;
  const r = await agentd(['run', '--timeout-ms', '500', '--', 'sleep', '10']);
  assert.equal(r.code, 124, r.stderr);  // the timeout fired: sleep itself would exit 0
  assert.match(r.stderr, /timeout/);
});

test('run --isolation none warns on stderr that nothing is isolated', async () => {
  const r = await agentd(['run', '--isolation', 'none', '--', 'true']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /host-direct does not isolate/);
  assert.equal(r.stdout, '');
});

test('run: setup errors exit 125 with a message', async () => {
  const missing = await agentd(['run', '--isolation', 'none', '--', '/nonexistent/agentd-cli-test']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /nonexistent/);
  const profile = await agentd(['run', '--isolation', 'none', '--profile', 'no-such-profile', '--', 'true']);
  assert.equal(profile.code, 125);
  assert.match(profile.stderr, /no-such-profile/);
  const none = await agentd(['run']);
  assert.equal(none.code, 125);
});

test('self-test holds every attack in a linux sandbox', async (t) => {
  if (!(await linuxOrSkip(t))) return;
  const r = await agentd(['self-test'], { timeoutMs: 110000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^PASS /m);
  assert.doesNotMatch(r.stdout, /^FAIL /m);
});

test('run --allow: only the listed destination, refusals named on stderr', async (t) => {
  if (!(await linuxOrSkip(t))) return;
  const server = http.createServer((req, res) => res.end('hello through the proxy'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address();
  // Plain HTTP through $HTTP_PROXY: the absolute-form request proxies use.
  const get = (target) => `
    const http = require('http'); const proxy = new URL(process.env.HTTP_PROXY);
    http.get({ host: proxy.hostname, port: proxy.port, path: '${target}' }, (res) => {
      let body = ''; res.on('data', (d) => { body += d; });
      res.on('end', () => console.log(res.statusCode + ' ' + body));
    }).on('error', (e) => console.log('error ' + e.message));`;
  const allowed = await agentd(['run', '--allow', `127.0.0.1:${port}`, '--', 'node', '-e', get(`http://127.0.0.1:${port}/`)]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(allowed.stdout.trim(), '200 hello through the proxy');
  const refused = await agentd(['run', '--allow', `127.0.0.1:${port}`, '--', 'node', '-e', get('http://169.254.169.254/latest/meta-data/')]);
  assert.match(refused.stdout, /^403 /, refused.stdout);
  assert.match(refused.stderr, /refused \(network\): 169\.254\.169\.254:80/);
  const contradiction = await agentd(['run', '--allow', 'example.com', '--net', 'host', '--', 'true']);
  assert.equal(contradiction.code, 125);
  assert.match(contradiction.stderr, /--allow and --net host contradict/);
});
