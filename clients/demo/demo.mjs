#!/usr/bin/env node
// A short, readable agentd session: initialize, create a sandbox, run one
// command with its output streamed as it arrives, print how it ended, then
// destroy the sandbox and shut agentd down. Node builtins only.
//
//   node clients/demo/demo.mjs                 # the built-in demo command
//   node clients/demo/demo.mjs -- uname -a     # any command instead
//   AGENTD_BIN=/path/to/agentd node clients/demo/demo.mjs
//
// agentd is spoken to in line-delimited JSON-RPC 2.0 over its stdin/stdout.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const AGENTD_BIN = process.env.AGENTD_BIN
  ? path.resolve(process.env.AGENTD_BIN)
  : path.resolve(here, '../../build/src/agentd');

// In a linux sandbox: show the unprivileged view and attacks failing.
const LINUX_COMMAND = [
  'sh', '-c',
  'echo "id: $(id)"; echo "hostname: $(hostname)"; echo "ls /: $(ls / | tr "\\n" " ")"; ' +
  'cat /etc/shadow; echo x > /usr/bin/owned; unshare -U true; ' +
  '(ping -c1 -W1 1.1.1.1 || getent hosts example.com || echo "network: unreachable") 2>&1; ' +
  'for i in 1 2 3; do echo "stdout line $i"; sleep 0.2; echo "stderr line $i" >&2; done',
];

const DEFAULT_COMMAND = [
  'sh', '-c',
  'for i in 1 2 3; do echo "stdout line $i"; sleep 0.3; echo "stderr line $i" >&2; sleep 0.3; done; ' +
  'echo "working in $(pwd)"; exit 0',
];

// --- command line ----------------------------------------------------------

const args = process.argv.slice(2);
let verbose = false;
let command = null;
let isolation = null;  // default: linux when available, else (explicitly, loudly) none
const dashdash = args.indexOf('--');
const options = dashdash === -1 ? args : args.slice(0, dashdash);
const rest = dashdash === -1 ? [] : args.slice(dashdash + 1);
for (let i = 0; i < options.length; ++i) {
  const option = options[i];
  if (option === '-v' || option === '--verbose') verbose = true;
  else if (option === '--isolation' && ['linux', 'none'].includes(options[i + 1])) isolation = options[++i];
  else if (option === '-h' || option === '--help') {
    process.stdout.write('usage: node demo.mjs [--verbose] [--isolation linux|none] [-- command [args...]]\n' +
      'Runs a command in an agentd sandbox and streams its output. Without --isolation it uses\n' +
      '"linux" when this machine offers it, else "none" (host-direct, no isolation), and says so.\n' +
      'AGENTD_BIN names the agentd binary (default: ../../build/src/agentd from this script).\n');
    process.exit(0);
  } else {
    process.stderr.write(`demo: unknown option ${option} (put the command after --)\n`);
    process.exit(2);
  }
}
if (rest.length) command = rest;

// --- presentation ----------------------------------------------------------

const tty = process.stdout.isTTY;
const paint = (code) => (text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const red = paint('31');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');

const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (text) => say(`\n${bold(cyan('▶'))} ${bold(text)}`);
const detail = (text) => say(`  ${text}`);

// --- a minimal line-framed JSON-RPC client ----------------------------------

// Its own process group: a Ctrl-C in the terminal reaches the demo, which
// then kills the command politely, instead of killing agentd mid-session.
const agentd = spawn(AGENTD_BIN, [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
let agentdStderr = '';
const exited = new Promise((resolve) => {
  agentd.once('exit', (code, signal) => resolve({ code, signal }));
  agentd.once('error', (error) => resolve({ code: null, signal: null, error }));
});
agentd.stdin.on('error', () => {});
agentd.stderr.setEncoding('utf8');
agentd.stderr.on('data', (text) => {
  agentdStderr += text;
  if (verbose) for (const line of text.split('\n').filter(Boolean)) say(dim(`  agentd: ${line}`));
});

const pending = new Map();
const notificationHandlers = new Map();
let nextId = 1;
let buffered = Buffer.alloc(0);

agentd.stdout.on('data', (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  let nl;
  while ((nl = buffered.indexOf(0x0a)) !== -1) {
    const line = buffered.subarray(0, nl).toString('utf8').trim();
    buffered = buffered.subarray(nl + 1);
    if (!line) continue;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      say(red(`  (agentd sent a line that is not JSON: ${line.slice(0, 120)})`));
      continue;
    }
    if (message.method && message.id === undefined) {
      notificationHandlers.get(message.method)?.(message.params);
    } else if (pending.has(message.id)) {
      const { resolve, reject, method } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) {
        const error = new Error(`${method} failed: ${message.error.message} (code ${message.error.code})`);
        error.rpc = message.error;
        reject(error);
      } else {
        resolve(message.result);
      }
    }
  }
});

exited.then(({ code, signal, error }) => {
  for (const { reject, method } of pending.values()) {
    reject(new Error(`agentd ended (${error ? error.message : `code ${code}, signal ${signal}`}) before answering ${method}`));
  }
  pending.clear();
});

function send(message) {
  agentd.stdin.write(`${JSON.stringify(message)}\n`);
}

function request(method, params) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, method });
    send({ jsonrpc: '2.0', id, method, params });
  });
}

const notify = (method, params) => send({ jsonrpc: '2.0', method, params });

// --- the session -----------------------------------------------------------

function describeBackend(backend) {
  const state = backend.available ? green('available') : yellow('not available');
  detail(`  ${bold(backend.name)} (isolation "${backend.isolation}"): ${state}`);
  if (!backend.available && backend.reason) detail(dim(`    ${backend.reason}`));
}

function describeHostDirect(backend) {
  const features = Object.entries(backend.features ?? {});
  const can = features.filter(([, f]) => f.state === 'available' || f.state === 'enforced');
  const cannot = features.filter(([, f]) => f.state === 'unavailable');
  detail(`What ${bold('host-direct')} (isolation "none") enforces:`);
  for (const [name, f] of can) detail(`    ${green('✓')} ${name}${f.mechanism ? dim(` — ${f.mechanism}`) : ''}`);
  detail('and what it cannot:');
  for (const [name, f] of cannot) detail(`    ${red('✗')} ${name}${f.reason ? dim(` — ${f.reason}`) : ''}`);
}

const formatBytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

async function runCommand(sandboxId) {
  const partial = { stdout: '', stderr: '' };
  const printLine = (stream, line) => {
    const prefix = stream === 'stdout' ? green('[stdout]') : yellow('[stderr]');
    say(`  ${prefix} ${line}`);
  };
  let execId = null;
  const early = [];
  const onOutput = (params) => {
    if (execId === null) return early.push(params);
    if (params.execId !== execId) return undefined;
    partial[params.stream] += params.data;
    const lines = partial[params.stream].split('\n');
    partial[params.stream] = lines.pop();
    for (const line of lines) printLine(params.stream, line);
    return undefined;
  };
  notificationHandlers.set('exec/output', onOutput);
  // What the kernel refused, reported as it happens (linux sandboxes).
  notificationHandlers.set('sandbox/violation', (p) => {
    say(`  ${red('[violation]')} ${p.kind}: ${p.detail}${p.pid ? dim(` (pid ${p.pid} in the sandbox${p.execId ? `, ${p.execId}` : ''})`) : ''}`);
  });
  // Notifications can arrive in the same read as the exec/start reply, before
  // execId is known here: keep exits by id.
  const exits = new Map();
  let exitWaiter = null;
  notificationHandlers.set('exec/exit', (params) => {
    exits.set(params.execId, params);
    if (exitWaiter && params.execId === execId) exitWaiter(params);
  });
  const exit = new Promise((resolve) => { exitWaiter = resolve; });

  const started = await request('exec/start', { sandboxId, argv: command, encoding: 'utf8' });
  execId = started.execId;
  detail(started.pid
    ? `${started.execId} started as pid ${started.pid}; output as it arrives:`
    : `${started.execId} could not be started (exec/exit says why)`);
  for (const params of early.splice(0)) onOutput(params);
  if (exits.has(execId)) exitWaiter(exits.get(execId));

  const interrupt = () => {
    say(yellow('\n  interrupted: killing the command'));
    request('exec/kill', { execId }).catch(() => {});
  };
  process.once('SIGINT', interrupt);
  const result = await exit;
  process.off('SIGINT', interrupt);
  for (const stream of ['stdout', 'stderr']) {
    if (partial[stream]) printLine(stream, `${partial[stream]}${dim(' (no newline at end)')}`);
  }
  return result;
}

function describeExit(exit) {
  const ok = exit.status === 'exited' && exit.exitCode === 0;
  const how = exit.status === 'exited'
    ? `exited with code ${exit.exitCode}`
    : `${exit.status}${exit.signalName ? ` (${exit.signalName})` : ''}${exit.exitCode !== undefined ? `, code ${exit.exitCode}` : ''}`;
  detail(`status: ${ok ? green(how) : yellow(how)}`);
  if (exit.reason) detail(`reason: ${exit.reason}`);
  detail(`duration: ${exit.durationMs} ms`);
  detail(`output: ${formatBytes(exit.stdoutBytes)} on stdout, ${formatBytes(exit.stderrBytes)} on stderr${exit.truncated ? yellow(' (truncated)') : ''}`);
  if (exit.usage) {
    detail(`usage: ${exit.usage.cpuTimeMs} ms CPU (${exit.usage.userTimeMs} user, ${exit.usage.systemTimeMs} system), ` +
      `peak memory ${formatBytes(exit.usage.peakMemoryBytes)}`);
  }
}

async function main() {
  say(bold('agentd demo'));
  detail(dim(`binary: ${AGENTD_BIN}`));

  step('initialize');
  const init = await request('initialize', {
    processId: process.pid,
    clientInfo: { name: 'agentd-demo', version: '1.0' },
  });
  notify('initialized', {});
  detail(`server: ${bold(`${init.serverInfo.name} ${init.serverInfo.version}`)}, protocol ${init.protocolVersion}, ` +
    `${init.capabilities.framing} framing, output encodings ${init.capabilities.encodings.join(' and ')}`);
  detail('backends:');
  for (const backend of init.backends) describeBackend(backend);
  const hostDirect = init.backends.find((b) => b.isolation === 'none');
  if (hostDirect) describeHostDirect(hostDirect);

  const linux = init.backends.find((b) => b.isolation === 'linux');
  isolation ??= linux?.available ? 'linux' : 'none';
  command ??= isolation === 'linux' ? LINUX_COMMAND : DEFAULT_COMMAND;
  step(`sandbox/create with isolation "${isolation}"`);
  if (isolation === 'none') {
    detail(yellow('Isolation "none" is chosen explicitly: host-direct runs commands as this user, on this host,'));
    detail(yellow('with a scrubbed environment, its own workdir, process-group cleanup and limits — but no confinement.'));
  }
  const sandbox = await request('sandbox/create', { isolation, labels: { client: 'demo' } });
  detail(`sandbox ${bold(sandbox.sandboxId)}, workdir ${sandbox.workdir}, network "${sandbox.network}"`);
  const enforced = Object.entries(sandbox.capabilities).filter(([, f]) => f.state === 'enforced').map(([name]) => name);
  detail(`enforced for this sandbox: ${enforced.join(', ')}`);

  const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  step(`exec/start: ${command.map(quote).join(' ')}`);
  try {
    const exit = await runCommand(sandbox.sandboxId);
    step('exec/exit');
    describeExit(exit);
  } finally {
    step('sandbox/destroy');
    const destroyed = await request('sandbox/destroy', { sandboxId: sandbox.sandboxId });
    detail(`destroyed; workdir ${destroyed.workdirRemoved ? 'removed' : 'kept'}`);
  }

  step('shutdown, exit');
  await request('shutdown');
  notify('exit');
  const status = await exited;
  detail(`agentd exited with status ${status.code}${status.code === 0 ? green(' ✓') : ''}`);
  return status.code === 0 ? 0 : 1;
}

const watchdog = setTimeout(() => {
  say(red('\ndemo: no progress for 10 minutes; giving up'));
  agentd.kill('SIGKILL');
  process.exit(1);
}, 10 * 60 * 1000);
watchdog.unref();

main().then(
  (code) => { process.exitCode = code; },
  async (error) => {
    say(red(`\ndemo failed: ${error.message}`));
    if (error.rpc?.data) say(red(`  data: ${JSON.stringify(error.rpc.data)}`));
    if (error.code === 'ENOENT' || /ENOENT/.test(error.message)) {
      say(red(`  is agentd built? try: bash scripts/build.sh (looked for ${AGENTD_BIN})`));
    }
    if (agentdStderr && !verbose) say(dim(`agentd's stderr:\n${agentdStderr.trimEnd()}`));
    agentd.stdin.end();
    const timer = setTimeout(() => agentd.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    process.exitCode = 1;
  },
);
