// agentd as an MCP server, driven by the official MCP TypeScript SDK client
// (StdioClientTransport) and the MCP Inspector CLI against the real binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AGENTD_BIN, E2E_DIR, LineParser, waitUntil } from './lib/agentd.mjs';

const INVALID_PARAMS = -32602;

// An SDK client connected to a fresh agentd. `args` ['--mcp'] forces MCP mode;
// [] relies on agentd recognizing the MCP initialize.
async function connect(t, args = ['--mcp']) {
  const transport = new StdioClientTransport({ command: AGENTD_BIN, args, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk) => { stderr += chunk; });
  const client = new Client({ name: 'agentd-mcp-e2e', version: '1.0.0' });
  // The SDK reports here, among others, a response to a request it no longer
  // waits for (e.g. one it cancelled).
  const errors = [];
  client.onerror = (error) => errors.push(error.message);
  await client.connect(transport);
  // Every message agentd sent, recorded in arrival order. The SDK hands
  // notifications to their handlers a microtask later than responses, so a
  // progress notification read together with its call's response reaches
  // onprogress too late (modelcontextprotocol/typescript-sdk#2580): assertions
  // on what agentd streamed use this record.
  const received = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => { received.push(message); deliver?.(message, extra); };
  t.after(async () => { await client.close(); });
  return { client, errors, received, stderr: () => stderr };
}

const textOf = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('');

// A linux sandbox, or a skip saying why this machine cannot make one.
async function linuxSandboxOrSkip(t, client) {
  const created = await client.callTool({ name: 'sandbox_create', arguments: {} });
  // Only "isolation unavailable" is this machine's; any other error is a failure.
  if (created.isError && created.structuredContent?.error?.code === -32004) {
    t.skip(`no linux sandbox here: ${textOf(created)}`);
    return null;
  }
  assert.equal(created.isError, false, textOf(created));
  assert.equal(created.structuredContent.isolation, 'linux', 'sandbox_create defaults to linux isolation');
  return created.structuredContent.sandboxId;
}

// Pids whose command line contains `needle`.
function pidsRunning(needle) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').join(' ');
      if (cmdline.includes(needle)) pids.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

test('mcp: initialize negotiates, tools/list shows the tools with their derived inputSchema', async (t) => {
  const { client } = await connect(t, []);  // auto-detected from the first message
  assert.equal(client.getServerVersion().name, 'agentd');
  assert.ok(client.getServerCapabilities().tools, 'tools capability');
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  for (const name of ['sandbox_create', 'exec', 'fs_read', 'fs_write', 'fs_list', 'sandbox_destroy']) {
    assert.ok(byName.has(name), `tool ${name} in ${[...byName.keys()].join(', ')}`);
    assert.equal(byName.get(name).inputSchema.type, 'object');
    assert.ok(!JSON.stringify(byName.get(name).inputSchema).includes('$ref'), `${name}: inputSchema is self-contained`);
  }
  // Derived from schema/: exec's argv is ExecRunParams.argv.
  const schema = JSON.parse(readFileSync(path.join(E2E_DIR, '../../schema/agentd.schema.json'), 'utf8'));
  const argv = byName.get('exec').inputSchema.properties.argv;
  assert.deepEqual(argv.type, schema.$defs.ExecRunParams.properties.argv.type);
  assert.deepEqual(argv.minItems, schema.$defs.ExecRunParams.properties.argv.minItems);
  assert.deepEqual(byName.get('exec').inputSchema.properties.isolation.enum, schema.$defs.Isolation.enum);
  assert.deepEqual(await client.ping(), {});
});

// The first reply of an agentd started without --mcp to one line-framed message.
async function firstReply(t, message) {
  const child = spawn(AGENTD_BIN, [], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  const reply = new Promise((resolve) => {
    const parser = new LineParser(resolve);
    child.stdout.on('data', (chunk) => parser.push(chunk));
  });
  child.stdin.write(`${JSON.stringify(message)}\n`);
  return reply;
}

test('mcp: the first message decides: an MCP initialize gets MCP, agentd\'s own gets agentd', async (t) => {
  const mcp = await firstReply(t, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(mcp.result.protocolVersion, '2025-03-26', 'a supported revision is echoed');
  assert.ok(mcp.result.capabilities.tools, JSON.stringify(mcp.result));
  const own = await firstReply(t, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, clientInfo: { name: 'raw' } } });
  assert.ok(Array.isArray(own.result.backends), 'agentd\'s own initialize result');
  assert.ok(!own.result.capabilities.tools, 'no MCP capabilities');
});

test('mcp: linux sandbox, exec echo and uname with streamed progress, fs_write/fs_read', async (t) => {
  const { client, received } = await connect(t);
  const sandboxId = await linuxSandboxOrSkip(t, client);
  if (!sandboxId) return;
  // The progress notifications agentd sent for the last tools/call (the SDK
  // uses the request id as progressToken).
  const progressOfLastCall = () => {
    const response = received.findLast((m) => m.id !== undefined && m.result);
    const progress = received.filter((m) => m.method === 'notifications/progress').map((m) => m.params);
    assert.ok(progress.every((p) => p.progressToken === response.id), 'progress echoes the call\'s progressToken');
    return progress;
  };

  const onprogress = [];
  received.length = 0;
  // The sleep keeps the first chunk well ahead of the response, so the SDK's
  // own onprogress sees it too.
  const echo = await client.callTool({ name: 'exec', arguments: { sandboxId, command: 'echo hi; sleep 0.3' } },
    undefined, { onprogress: (p) => onprogress.push(p) });
  assert.equal(echo.isError, false, textOf(echo));
  assert.equal(textOf(echo), 'hi\n[exited with code 0]');
  assert.equal(echo.structuredContent.exitCode, 0);
  assert.equal(echo.structuredContent.sandboxId, sandboxId);
  assert.deepEqual(progressOfLastCall().map((p) => p.message), ['hi\n']);
  assert.ok(onprogress.some((p) => p.message === 'hi\n'), `SDK onprogress got the output: ${JSON.stringify(onprogress)}`);

  received.length = 0;
  const uname = await client.callTool({ name: 'exec', arguments: { sandboxId, command: 'uname -a; uname -n' } },
    undefined, { onprogress: () => {} });
  assert.equal(uname.isError, false, textOf(uname));
  assert.match(textOf(uname), /^Linux /);
  const progress = progressOfLastCall();
  assert.equal(progress.map((p) => p.message).join(''), uname.structuredContent.stdout, 'the progress messages are the output, in order');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, 'progress increases');

  const wrote = await client.callTool({ name: 'fs_write', arguments: { sandboxId, path: 'notes/a.txt', text: 'from MCP\n', createParents: true } });
  assert.equal(wrote.isError, false, textOf(wrote));
  const read = await client.callTool({ name: 'fs_read', arguments: { sandboxId, path: '/workspace/notes/a.txt' } });
  assert.equal(textOf(read), 'from MCP\n');
  const cat = await client.callTool({ name: 'exec', arguments: { sandboxId, argv: ['cat', 'notes/a.txt'] } });
  assert.equal(cat.structuredContent.stdout, 'from MCP\n', 'exec sees what fs_write wrote');
  const listed = await client.callTool({ name: 'fs_list', arguments: { sandboxId, path: 'notes' } });
  assert.deepEqual(listed.structuredContent.entries.map((e) => e.name), ['a.txt']);

  const destroyed = await client.callTool({ name: 'sandbox_destroy', arguments: { sandboxId } });
  assert.equal(destroyed.isError, false, textOf(destroyed));
});

test('mcp: exec without sandboxId runs in the default linux sandbox, never on the host', async (t) => {
  const { client } = await connect(t);
  const result = await client.callTool({ name: 'exec', arguments: { command: 'ls /; id -u' } });
  if (result.isError && result.structuredContent?.error?.code === -32004) {  // IsolationUnavailable
    t.skip(`no linux sandbox here: ${textOf(result)}`);
    return;
  }
  assert.equal(result.isError, false, textOf(result));
  const listing = result.structuredContent.stdout.split('\n');
  assert.ok(listing.includes('workspace'), `the sandbox's root has /workspace: ${listing.join(' ')}`);
  assert.ok(!listing.includes('work'), 'the host\'s /work is not visible');
  const again = await client.callTool({ name: 'exec', arguments: { argv: ['true'] } });
  assert.equal(again.structuredContent.sandboxId, result.structuredContent.sandboxId, 'the default sandbox is reused');
});

test('mcp: the exec result names what the sandbox refused (sandbox/violation)', async (t) => {
  // Skipped only where this machine's probe says syscalls cannot be reported.
  const { stdout } = await promisify(execFile)(AGENTD_BIN, ['probe', '--json']);
  const linux = JSON.parse(stdout).backends.find((b) => b.isolation === 'linux');
  const offered = linux?.available && linux.features['violationReports.syscall']?.state === 'available';
  if (!offered) {
    t.skip(`refused syscalls are not reported here: ${linux?.reason ?? linux?.features['violationReports.syscall']?.reason}`);
    return;
  }
  const { client } = await connect(t);
  const sandboxId = await linuxSandboxOrSkip(t, client);
  if (!sandboxId) return;
  const result = await client.callTool({ name: 'exec', arguments: { sandboxId, argv: ['unshare', '-U', 'true'] } });
  assert.equal(result.isError, true, textOf(result));
  assert.match(textOf(result), /\[refused by the sandbox\] syscall: unshare/);
  assert.deepEqual(result.structuredContent.refused, ['syscall: unshare']);
});

test('mcp: failures while running are isError results; bad arguments are -32602', async (t) => {
  const { client } = await connect(t);
  const missing = await client.callTool({ name: 'exec', arguments: { sandboxId: 'sb-404', argv: ['true'] } });
  assert.equal(missing.isError, true);
  assert.match(textOf(missing), /sandbox not found/);
  assert.match(textOf(missing), /sandbox_create/, 'says what to do');

  const host = await client.callTool({ name: 'sandbox_create', arguments: { isolation: 'none' } });
  assert.equal(host.structuredContent.isolation, 'none');
  const notFound = await client.callTool({ name: 'exec', arguments: { sandboxId: host.structuredContent.sandboxId, argv: ['no-such-command-xyz'] } });
  assert.equal(notFound.isError, true);
  assert.equal(notFound.structuredContent.status, 'setupError', textOf(notFound));

  await assert.rejects(client.callTool({ name: 'exec', arguments: { argv: 'echo hi' } }),
    (e) => e.code === INVALID_PARAMS && /arguments\.argv: expected array/.test(e.message));
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
    (e) => e.code === INVALID_PARAMS && /unknown tool/.test(e.message));
  await assert.rejects(client.callTool({ name: 'fs_read', arguments: { sandboxId: 'sb-1', path: 'x', bogus: 1 } }),
    (e) => e.code === INVALID_PARAMS && /bogus/.test(e.message));
});

test('mcp: a cancelled exec is killed and its tools/call never answered', async (t) => {
  const { client, errors } = await connect(t);
  const sandboxId = await linuxSandboxOrSkip(t, client);
  if (!sandboxId) return;
  const marker = `sleep 271.828${process.pid}`;
  const controller = new AbortController();
  const call = client.callTool({ name: 'exec', arguments: { sandboxId, command: `${marker}; echo never` } },
    undefined, { signal: controller.signal });
  await waitUntil(() => pidsRunning(marker).length > 0, { timeoutMs: 30000, what: 'the sleep to start' });
  controller.abort('test cancels');
  await assert.rejects(call, 'the SDK rejects the aborted call');
  await waitUntil(() => pidsRunning(marker).length === 0, { timeoutMs: 30000, what: 'the cancelled process to be gone' });
  // The session goes on: a later call is answered normally.
  const after = await client.callTool({ name: 'exec', arguments: { sandboxId, argv: ['echo', 'after'] } });
  assert.equal(after.structuredContent.stdout, 'after\n');
  await client.ping();  // one more round trip: a late answer to the cancelled call would be here by now
  assert.deepEqual(errors, [], 'no response came for the cancelled request');
});

test('mcp: the MCP Inspector CLI lists the tools', async (t) => {
  const cli = path.join(E2E_DIR, 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js');
  if (!existsSync(cli)) {
    t.skip('@modelcontextprotocol/inspector is not installed (npm ci in tests/e2e)');
    return;
  }
  const { stdout } = await promisify(execFile)(process.execPath,
    [cli, '--cli', AGENTD_BIN, '--mcp', '--method', 'tools/list'],
    { timeout: 60000, env: { ...process.env, NO_COLOR: '1' } });
  const listed = JSON.parse(stdout);
  assert.ok(listed.tools.some((tool) => tool.name === 'exec'), stdout.slice(0, 500));
});
