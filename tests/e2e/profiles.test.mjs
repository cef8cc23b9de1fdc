// Profiles, the config file and the audit log, driven through the real binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { AGENTD_BIN, E2E_DIR, ErrorCode, agentdFor, assertTrafficValid, waitUntil } from './lib/agentd.mjs';

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-profiles-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// An environment whose default config path is inside `dir` (never the user's).
function envWith(dir) {
  return { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'xdg') };
}

const readAudit = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
  .split('\n').filter(Boolean).map((line) => JSON.parse(line));

test('profile/list shows the built-ins and the config-defined profiles, validated by the schema', async (t) => {
  const dir = tempDir(t);
  const config = path.join(dir, 'agentd.toml');
  fs.writeFileSync(config, '[limits]\nmaxOpenFiles = 333\n\n[profiles.ci]\nbase = "strict"\n\n[profiles.ci.limits]\nwallTimeMs = 600000\n');
  const agent = agentdFor(t, { args: ['--config', config], env: envWith(dir) });
  const init = await agent.initialize();
  assert.deepEqual(init.profiles, ['strict', 'default', 'permissive', 'workstation', 'ci']);
  assert.equal(init.defaultLimits.maxOpenFiles, 333);
  const { profiles } = await agent.call('profile/list', {});
  const byName = Object.fromEntries(profiles.map((p) => [p.name, p]));
  assert.equal(byName.strict.isolation, 'linux');
  assert.equal(byName.strict.network, 'none');
  assert.equal(byName.strict.allowHostNetwork, false);
  assert.equal(byName.workstation.isolation, 'none');
  assert.equal(byName.ci.source, 'config');
  assert.equal(byName.ci.limits.wallTimeMs, 600000);
  assert.equal(byName.ci.limits.memoryBytes, byName.strict.limits.memoryBytes);
  assert.ok(byName.default.protectedPaths.includes('~/.ssh'));
  assert.match(byName.default.seccomp, /same filter/);
  assertTrafficValid(t, agent, assert);
});

test('a bad config file stops agentd with exit 2, naming the file, the line and the key', (t) => {
  const dir = tempDir(t);
  const config = path.join(dir, 'agentd.toml');
  fs.writeFileSync(config, '[limits]\nmemoryBytes = "lots"\n');
  const bad = spawnSync(AGENTD_BIN, ['--config', config], { input: '', env: envWith(dir), encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.ok(bad.stderr.includes(`${config}:2:`), bad.stderr);
  assert.match(bad.stderr, /limits\.memoryBytes: expected a positive integer/);
  const missing = spawnSync(AGENTD_BIN, ['--config', path.join(dir, 'nope.toml')], { input: '', env: envWith(dir), encoding: 'utf8' });
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /nope\.toml/);
});

test('workstation needs an explicit isolation "none"; a profile fills in limits', async (t) => {
  const agent = agentdFor(t, { env: envWith(tempDir(t)) });
  await agent.initialize();
  const implied = await agent.callError('sandbox/create', { profile: 'workstation' });
  assert.equal(implied.code, ErrorCode.InvalidParams);
  assert.match(implied.message, /params\.isolation: .*never chosen implicitly/);
  const unknown = await agent.callError('sandbox/create', { isolation: 'none', profile: 'nope' });
  assert.equal(unknown.code, ErrorCode.InvalidParams);
  assert.match(unknown.message, /params\.profile: unknown profile "nope"/);
  const sandbox = await agent.createSandbox({ isolation: 'none', profile: 'workstation', limits: { maxOpenFiles: 77 } });
  assert.equal(sandbox.limits.maxOpenFiles, 77, 'explicit fields override the profile');
  assert.equal(sandbox.capabilities.protectedPaths.state, 'unavailable');
  assert.match(sandbox.capabilities.protectedPaths.reason, /host-direct cannot hide/);
  assertTrafficValid(t, agent, assert);
});

test('the audit log records create, exec, destroy and refused requests, without env values', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'audit.jsonl');
  const agent = agentdFor(t, { args: ['--audit-log', log], env: envWith(dir) });
  await agent.initialize();
  const sandbox = await agent.createSandbox({ isolation: 'none', env: { AUDIT_SECRET: 'value-that-must-not-leak' } });
  const run = await agent.call('exec/run', { sandboxId: sandbox.sandboxId, argv: ['sh', '-c', 'echo hi'], encoding: 'utf8' });
  assert.equal(run.exitCode, 0);
  const refused = await agent.callError('exec/run', { sandboxId: 'sb-nope', argv: ['true'] });
  assert.equal(refused.code, ErrorCode.SandboxNotFound);
  await agent.call('sandbox/destroy', { sandboxId: sandbox.sandboxId });
  await waitUntil(() => readAudit(log).some((r) => r.event === 'sandbox.destroyed'), { what: 'the destroy record' });
  const records = readAudit(log);
  const events = records.map((r) => r.event);
  assert.deepEqual(events, ['sandbox.created', 'exec.finished', 'request.refused', 'sandbox.destroyed']);
  const [created, finished, refusal] = records;
  assert.equal(created.sandboxId, sandbox.sandboxId);
  assert.deepEqual(created.envNames, ['AUDIT_SECRET']);
  assert.deepEqual(finished.argv, ['sh', '-c', 'echo hi']);
  assert.equal(finished.exitCode, 0);
  assert.equal(finished.status, 'exited');
  assert.equal(finished.stdoutBytes, 3);
  assert.equal(typeof finished.durationMs, 'number');
  assert.equal(refusal.method, 'exec/run');
  assert.equal(refusal.code, ErrorCode.SandboxNotFound);
  assert.match(refusal.message, /sb-nope/);
  assert.ok(!fs.readFileSync(log, 'utf8').includes('value-that-must-not-leak'), 'no env values in the audit log');
  assertTrafficValid(t, agent, assert);
});

test('linux: a profile implies isolation and protected paths are hidden under a visible parent', async (t) => {
  // A fake home outside /tmp (which linux sandboxes build themselves), readable by the sandbox.
  const dir = fs.mkdtempSync(path.join(E2E_DIR, '.tmp-profiles-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755); // the sandbox's uid may differ from ours
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
  fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY');
  fs.writeFileSync(path.join(home, '.bashrc'), 'echo rc\n');
  fs.writeFileSync(path.join(home, 'notes.txt'), 'visible\n');
  const agent = agentdFor(t, { env: { ...envWith(dir), HOME: home } });
  const init = await agent.initialize();
  const linux = init.backends.find((b) => b.isolation === 'linux');
  if (!linux?.available) {
    t.skip(`linux backend unavailable here: ${linux?.reason}`);
    return;
  }
  const sandbox = await agent.createSandbox({ profile: 'default', readWritePaths: [home] });
  assert.equal(sandbox.isolation, 'linux');
  assert.equal(sandbox.capabilities.protectedPaths.state, 'enforced');
  const run = await agent.call('exec/run', {
    sandboxId: sandbox.sandboxId,
    encoding: 'utf8',
    argv: ['sh', '-c', `cat ${home}/notes.txt; ls -A ${home}/.ssh | wc -l; cat ${home}/.bashrc; echo x >> ${home}/.bashrc; echo end`],
  });
  assert.match(run.stdout, /^visible\n0\n/, run.stdout + run.stderr);
  assert.match(run.stdout, /end\n$/);
  assert.ok(!run.stdout.includes('echo rc'), run.stdout);
  assert.equal(fs.readFileSync(path.join(home, '.bashrc'), 'utf8'), 'echo rc\n', 'the host rc file is untouched');
  const strictHost = await agent.callError('sandbox/create', { profile: 'strict', network: 'host' });
  assert.equal(strictHost.code, ErrorCode.InvalidParams);
  assert.match(strictHost.message, /params\.network: "host" is not allowed by profile "strict"/);
  const strict = await agent.createSandbox({
    profile: 'strict',
    optional: ['limits.memoryBytes', 'limits.maxProcesses', 'limits.cpuMillicores'],
  });
  assert.equal(strict.isolation, 'linux');
  assert.equal(strict.network, 'none');
  assert.equal(strict.limits.maxOutputBytes, 4 << 20, 'the strict profile\'s limits apply');
  const inside = await agent.callError('sandbox/create', { profile: 'default', readOnlyPaths: [path.join(home, '.ssh')] });
  assert.equal(inside.code, ErrorCode.InvalidParams);
  assert.match(inside.message, /protected path/);
  assertTrafficValid(t, agent, assert);
});
