// Shared helpers of the end-to-end tests: spawn agentd, talk to it with raw
// clients that frame and parse bytes themselves (line-delimited JSON or LSP
// Content-Length), collect every message it sends, wait for messages, check
// processes, and validate the traffic against schema/agentd.schema.json.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(here, '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '../..');
export const AGENTD_BIN = process.env.AGENTD_BIN
  ? path.resolve(process.env.AGENTD_BIN)
  : path.resolve(E2E_DIR, '../../build/src/agentd');
export const SCHEMA_PATH = path.join(REPO_ROOT, 'schema', 'agentd.schema.json');
export const SCHEMA_ID = 'https://agentd.local/schema/agentd.schema.json';

// The method of the request a response answers, attached to the response
// object when it arrives (ids may be reused over a session).
export const REQUEST_METHOD = Symbol('agentd.requestMethod');

export const ErrorCode = Object.freeze({
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerNotInitialized: -32002,
  RequestCancelled: -32800,
  SandboxNotFound: -32001,
  ExecNotFound: -32003,
  IsolationUnavailable: -32004,
  FeatureUnavailable: -32005,
  InvalidState: -32006,
});

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Byte-level parsers

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(bytes) {
  const text = utf8.decode(bytes); // throws on invalid UTF-8: a protocol error
  return JSON.parse(text);
}

const isSpace = (b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

// One JSON message per line ("\n", optional "\r" before it).
export class LineParser {
  constructor(onMessage, onError = (e) => { throw e; }) {
    this.onMessage = onMessage;
    this.onError = onError;
    this.buffer = Buffer.alloc(0);
  }

  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let start = 0;
    let nl;
    while ((nl = this.buffer.indexOf(0x0a, start)) !== -1) {
      let line = this.buffer.subarray(start, nl);
      start = nl + 1;
      if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.every(isSpace)) continue;
      let message;
      try {
        message = decodeJson(line);
      } catch (e) {
        this.onError(new Error(`line framing: undecodable line (${e.message}): ${line.toString('latin1').slice(0, 200)}`));
        continue;
      }
      this.onMessage(message);
    }
    this.buffer = this.buffer.subarray(start);
  }

  get pending() { return this.buffer.length; }
}

// LSP base protocol: `Content-Length: N\r\n\r\n` then N bytes.
export class ContentLengthParser {
  constructor(onMessage, onError = (e) => { throw e; }) {
    this.onMessage = onMessage;
    this.onError = onError;
    this.buffer = Buffer.alloc(0);
    this.bodyLength = null;
  }

  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.bodyLength === null) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const headers = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
        this.buffer = this.buffer.subarray(end + 4);
        let length = null;
        for (const header of headers) {
          const colon = header.indexOf(':');
          if (colon === -1) {
            this.onError(new Error(`content-length framing: malformed header ${JSON.stringify(header)}`));
            continue;
          }
          if (header.slice(0, colon).trim().toLowerCase() === 'content-length') {
            const value = header.slice(colon + 1).trim();
            if (!/^\d+$/.test(value)) this.onError(new Error(`content-length framing: bad length ${JSON.stringify(value)}`));
            else length = Number(value);
          }
        }
        if (length === null) {
          this.onError(new Error(`content-length framing: header block without Content-Length: ${JSON.stringify(headers)}`));
          continue;
        }
        this.bodyLength = length;
      }
      if (this.buffer.length < this.bodyLength) return;
      const body = this.buffer.subarray(0, this.bodyLength);
      this.buffer = this.buffer.subarray(this.bodyLength);
      this.bodyLength = null;
      let message;
      try {
        message = decodeJson(body);
      } catch (e) {
        this.onError(new Error(`content-length framing: undecodable body (${e.message}): ${body.toString('latin1').slice(0, 200)}`));
        continue;
      }
      this.onMessage(message);
    }
  }

  get pending() { return this.buffer.length + (this.bodyLength === null ? 0 : 1); }
}

// Picks the framing from the first non-whitespace byte, as agentd does.
export class AutoParser {
  constructor(onMessage, onError) {
    this.onMessage = onMessage;
    this.onError = onError;
    this.inner = null;
    this.framing = null;
    this.held = Buffer.alloc(0);
  }

  push(chunk) {
    if (this.inner) return this.inner.push(chunk);
    this.held = Buffer.concat([this.held, chunk]);
    const first = this.held.findIndex((b) => !isSpace(b));
    if (first === -1) return undefined;
    const c = this.held[first];
    this.framing = c === 0x7b || c === 0x5b ? 'line' : 'content-length';
    this.inner = this.framing === 'line'
      ? new LineParser(this.onMessage, this.onError)
      : new ContentLengthParser(this.onMessage, this.onError);
    const held = this.held.subarray(first);
    this.held = null;
    return this.inner.push(held);
  }

  get pending() { return this.inner ? this.inner.pending : this.held.length; }
}

export function frameBody(framing, body) {
  if (framing === 'line') return Buffer.from(`${body}\n`, 'utf8');
  const bytes = Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'latin1'), bytes]);
}

// ---------------------------------------------------------------------------
// Processes

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

// /proc/<pid>/stat: state and start time (to tell a reused pid apart).
export function procStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], startTime: fields[19] };
}

// A zombie (or a pid now used by another process) counts as gone: what
// matters is that nothing of the exec still runs.
export function isAlive(pid, startTime) {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

export async function waitUntil(predicate, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// Waits until none of the pids runs any more; `pids` maps pid -> startTime
// (or is an array of pids).
export async function waitGone(pids, { timeoutMs = 10000, what = 'processes to be gone' } = {}) {
  const entries = Array.isArray(pids) ? pids.map((pid) => [pid, procStat(pid)?.startTime]) : Object.entries(pids);
  await waitUntil(() => entries.every(([pid, start]) => !isAlive(Number(pid), start)), {
    timeoutMs,
    what: `${what} (${entries.map(([pid]) => pid).join(', ')}; still alive: ${
      entries.filter(([pid, start]) => isAlive(Number(pid), start)).map(([pid]) => pid).join(', ')})`,
  });
}

export async function readPidFile(file, { timeoutMs = 10000 } = {}) {
  return waitUntil(() => {
    let text;
    try { text = readFileSync(file, 'utf8'); } catch { return null; }
    return /^\d+\s*$/.test(text) ? Number(text.trim()) : null;
  }, { timeoutMs, what: `pid file ${file}` });
}

export class RpcError extends Error {
  constructor(error, method) {
    super(`${method}: ${error.code} ${error.message}`);
    this.code = error.code;
    this.data = error.data;
    this.rpcMessage = error.message;
  }
}

// One agentd child process and a raw client for it. Every message agentd
// sends is kept in `messages`, in order.
export class Agentd {
  constructor({ args = [], env = process.env, framing = 'line', bin = AGENTD_BIN, spawnOptions = {} } = {}) {
    this.framing = framing;
    this.messages = [];
    this.requestsById = new Map();
    this.sentMessages = [];
    this.protocolErrors = [];
    this.stderr = '';
    this.waiters = new Set();
    this.listeners = new Set();
    this.nextId = 1;
    this.exitInfo = null;
    this.proc = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env, ...spawnOptions });
    live.add(this.proc);
    this.spawned = new Promise((resolve, reject) => {
      this.proc.once('spawn', resolve);
      this.proc.once('error', reject);
    });
    this.spawned.catch(() => {}); // reported through exitInfo and waitFor
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this.proc);
        resolve(this.exitInfo);
      });
      this.proc.once('error', (error) => {
        this.exitInfo = { code: null, signal: null, error };
        live.delete(this.proc);
        resolve(this.exitInfo);
      });
    });
    this.closed = new Promise((resolve) => this.proc.once('close', resolve));
    this.proc.stdin.on('error', () => {}); // EPIPE once agentd has gone
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (text) => { this.stderr += text; });
    this.parser = new AutoParser((m) => this.onMessage(m), (e) => this.protocolErrors.push(e.message));
    this.proc.stdout.on('data', (chunk) => this.parser.push(chunk));
  }

  get pid() { return this.proc.pid; }

  onMessage(message) {
    for (const m of Array.isArray(message) ? message : [message]) {
      if (m && typeof m === 'object' && 'id' in m && !('method' in m)) {
        const method = this.requestsById.get(m.id);
        if (method !== undefined) Object.defineProperty(m, REQUEST_METHOD, { value: method });
      }
    }
    this.messages.push(message);
    for (const listener of [...this.listeners]) listener(message);
    for (const waiter of [...this.waiters]) waiter();
  }

  // Calls `listener` with each message from now on; returns an unsubscribe.
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Sends a framed body, then a fence request, and resolves with every
  // message that arrived in between. agentd handles messages in order and
  // answers synchronous methods at once, so this is exactly what the body
  // caused (for bodies without long-running requests); an empty array means
  // no response at all. The fence works in any lifecycle state: it is
  // answered with a result or an error.
  exchange(body, options) {
    return this.exchangeRaw(null, options, body);
  }

  // The same for bytes sent as they are (no framing added).
  async exchangeRaw(bytes, { timeoutMs = 20000 } = {}, body = undefined) {
    const after = this.messages.length;
    if (body === undefined) this.sendRaw(bytes);
    else this.sendBody(body);
    const fenceId = `fence-${this.nextId++}`;
    this.send({ jsonrpc: '2.0', id: fenceId, method: 'sandbox/list', params: {} });
    const fence = await this.waitFor((m) => !Array.isArray(m) && m.id === fenceId && !('method' in m),
      { after, timeoutMs, what: `the fence after ${String(body ?? bytes).slice(0, 80)}` });
    return this.messages.slice(after, this.messages.indexOf(fence));
  }

  // Notes the requests of an outgoing message (for response validation).
  recordOutgoing(message) {
    this.sentMessages.push(message);
    for (const m of Array.isArray(message) ? message : [message]) {
      if (m && typeof m === 'object' && typeof m.method === 'string' && 'id' in m) {
        this.requestsById.set(m.id, m.method);
      }
    }
  }

  // A writable stream for a client library (vscode-jsonrpc): what it writes
  // reaches agentd's stdin and is parsed to note the requests.
  libraryInput() {
    const tap = new PassThrough();
    const parser = new AutoParser((m) => this.recordOutgoing(m), () => {});
    tap.on('data', (chunk) => parser.push(chunk));
    tap.pipe(this.proc.stdin);
    return tap;
  }

  // Writes bytes as they are. They are also parsed as agentd will parse them,
  // to note the requests among them (deliberately broken ones are skipped).
  sendRaw(bytes) {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    this.outgoing ??= new AutoParser((m) => this.recordOutgoing(m), () => {});
    this.outgoing.push(buffer);
    this.proc.stdin.write(buffer);
  }

  // Frames a message body (any text, valid JSON or not) in this client's framing.
  sendBody(body) {
    this.sendRaw(frameBody(this.framing, body));
  }

  send(message) { this.sendBody(JSON.stringify(message)); }

  notify(method, params) {
    const message = { jsonrpc: '2.0', method };
    if (params !== undefined) message.params = params;
    this.send(message);
  }

  // Sends a request and resolves with the whole response message.
  request(method, params, { id = this.nextId++, timeoutMs = 20000 } = {}) {
    const message = { jsonrpc: '2.0', id, method };
    if (params !== undefined) message.params = params;
    const after = this.messages.length;
    this.send(message);
    return this.waitFor(
      (m) => !Array.isArray(m) && m.id === id && !('method' in m),
      { after, timeoutMs, what: `response to ${method} (id ${JSON.stringify(id)})` },
    );
  }

  // Sends a request and resolves with its result, or rejects with RpcError.
  async call(method, params, options) {
    const response = await this.request(method, params, options);
    if ('error' in response) throw new RpcError(response.error, method);
    return response.result;
  }

  // Resolves with the error object of a request expected to fail.
  async callError(method, params, options) {
    const response = await this.request(method, params, options);
    if (!('error' in response)) {
      throw new Error(`${method} was expected to fail but returned ${JSON.stringify(response.result)}`);
    }
    return response.error;
  }

  // Resolves with the first message (from index `after` on) matching predicate.
  waitFor(predicate, { after = 0, timeoutMs = 20000, what = 'a message' } = {}) {
    return new Promise((resolve, reject) => {
      let index = after;
      let done = false;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.waiters.delete(check);
        fn(value);
      };
      const check = () => {
        for (; index < this.messages.length; ++index) {
          if (predicate(this.messages[index])) {
            finish(resolve, this.messages[index]);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => finish(reject, new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}\n${this.diagnostics()}`)), timeoutMs);
      if (check()) return;
      this.waiters.add(check);
      // All output has been parsed once stdout is closed: nothing more can come.
      this.closed.then(() => {
        if (!check()) {
          finish(reject, new Error(
            `agentd exited (${JSON.stringify(this.exitInfo)}) while waiting for ${what}\n${this.diagnostics()}`));
        }
      });
    });
  }

  waitForNotification(method, predicate = () => true, options = {}) {
    return this.waitFor(
      (m) => !Array.isArray(m) && m.method === method && !('id' in m) && predicate(m.params),
      { what: `notification ${method}`, ...options },
    );
  }

  notifications(method, predicate = () => true) {
    return this.messages.filter((m) => !Array.isArray(m) && m.method === method && !('id' in m) && predicate(m.params));
  }

  async initialize(params = { clientInfo: { name: 'agentd-e2e', version: '0' } }) {
    const result = await this.call('initialize', params);
    this.notify('initialized', {});
    return result;
  }

  createSandbox(params = { isolation: 'none' }) { return this.call('sandbox/create', params); }

  // exec/start, then everything up to and including its exec/exit:
  // { start, exit, stdout, stderr, outputs } (stdout/stderr as Buffers).
  async execToExit(params, { timeoutMs = 30000 } = {}) {
    const start = await this.call('exec/start', params);
    const exit = await this.waitForNotification('exec/exit', (p) => p.execId === start.execId, { timeoutMs });
    return { start, exit: exit.params, ...collectOutput(this.messages, start.execId) };
  }

  closeStdin() { this.proc.stdin.end(); }

  async waitExit({ timeoutMs = 15000 } = {}) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`agentd did not exit within ${timeoutMs} ms\n${this.diagnostics()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // shutdown + exit; resolves with the exit status.
  async shutdownAndExit() {
    const response = await this.request('shutdown');
    this.notify('exit');
    const status = await this.waitExit();
    return { response, status };
  }

  // Ends agentd whatever state it is in: stdin EOF first, SIGKILL if that
  // does not do it within a few seconds.
  async dispose() {
    if (!this.exitInfo) {
      this.proc.stdin.end();
      let timer;
      const gone = await Promise.race([
        this.exited.then(() => true),
        new Promise((resolve) => { timer = setTimeout(() => resolve(false), 5000); }),
      ]);
      clearTimeout(timer);
      if (!gone) {
        this.proc.kill('SIGKILL');
        await this.exited;
      }
    }
    this.proc.stdout.destroy();
    this.proc.stderr.destroy();
  }

  diagnostics() {
    const last = this.messages.slice(-5).map((m) => JSON.stringify(m).slice(0, 400));
    return `--- agentd stderr (tail) ---\n${this.stderr.slice(-3000)}\n--- last messages ---\n${last.join('\n')}` +
      (this.protocolErrors.length ? `\n--- protocol errors ---\n${this.protocolErrors.join('\n')}` : '');
  }
}

export function spawnAgentd(options) { return new Agentd(options); }

// Spawns agentd and disposes of it when the test ends.
export function agentdFor(t, options) {
  const agent = new Agentd(options);
  t.after(() => agent.dispose());
  return agent;
}

// Decodes and reassembles the exec/output notifications of one exec.
export function collectOutput(messages, execId) {
  const outputs = messages.filter((m) => !Array.isArray(m) && m.method === 'exec/output' && m.params?.execId === execId)
    .map((m) => m.params);
  const part = (stream) => Buffer.concat(outputs.filter((p) => p.stream === stream)
    .map((p) => (p.encoding === 'utf8' ? Buffer.from(p.data, 'utf8') : Buffer.from(p.data, 'base64'))));
  return { outputs, stdout: part('stdout'), stderr: part('stderr') };
}

// ---------------------------------------------------------------------------
// Schema validation

let compiled; // undefined: not loaded yet; null: no schema file

function absolutizeRefs(node, base) {
  if (Array.isArray(node)) return node.map((n) => absolutizeRefs(n, base));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = (key === '$ref' || key === '$dynamicRef') && typeof value === 'string' && value.startsWith('#')
      ? base + value
      : absolutizeRefs(value, base);
  }
  return out;
}

const errorShape = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'integer' }, message: { type: 'string' }, data: {} },
  additionalProperties: false,
};

export function loadSchema() {
  if (compiled !== undefined) return compiled;
  if (!existsSync(SCHEMA_PATH)) {
    compiled = null;
    return compiled;
  }
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8'));
  const base = schema.$id || SCHEMA_ID;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(schema, schema.$id ? undefined : base);
  const cache = new Map();
  const compile = (key, sub) => {
    if (!cache.has(key)) cache.set(key, sub === undefined ? null : ajv.compile(absolutizeRefs(sub, base)));
    return cache.get(key);
  };
  compiled = {
    schema,
    methods: schema['x-methods'] || {},
    notifications: schema['x-notifications'] || {},
    error: ajv.compile(errorShape),
    // agentd's own, stricter description of error objects, where the schema has one.
    rpcError: schema.$defs?.RpcError ? ajv.compile({ $ref: `${base}#/$defs/RpcError` }) : null,
    result: (method) => compile(`result:${method}`, schema['x-methods']?.[method]?.result),
    params: (method) => compile(`params:${method}`, schema['x-methods']?.[method]?.params),
    notificationParams: (method) => compile(`notification:${method}`, schema['x-notifications']?.[method]?.params),
    format: (validate) => ajv.errorsText(validate.errors, { separator: '; ', dataVar: '' }),
  };
  return compiled;
}

const isId = (id) => typeof id === 'string' || Number.isInteger(id);

// Checks every message agentd sent against the schema. `requestsById` maps a
// request id to its method (responses that arrived through Agentd also carry
// the method of their request, which wins when ids were reused). `sent` (the
// client's messages) is optional: requests that succeeded must have had
// params the schema accepts. Returns { skipped, errors, checked }.
export function validateAll(messages, requestsById = new Map(), { sent = [] } = {}) {
  const s = loadSchema();
  if (!s) return { skipped: `no schema at ${SCHEMA_PATH}`, errors: [], checked: 0 };
  const errors = [];
  let checked = 0;
  const succeeded = new Set();
  const show = (m) => JSON.stringify(m).slice(0, 300);

  const checkOne = (m, inBatch) => {
    checked += 1;
    if (!m || typeof m !== 'object' || Array.isArray(m)) {
      errors.push(`not a JSON object${inBatch ? ' (in a batch)' : ''}: ${show(m)}`);
      return;
    }
    if (m.jsonrpc !== '2.0') errors.push(`jsonrpc is not "2.0": ${show(m)}`);
    if ('method' in m) {
      if ('id' in m) {
        errors.push(`agentd sent a request (${m.method}); it has no server-to-client requests: ${show(m)}`);
        return;
      }
      const entry = s.notifications[m.method];
      if (!entry) {
        errors.push(`notification ${m.method} is not in x-notifications: ${show(m)}`);
        return;
      }
      if (entry.direction && entry.direction !== 'toClient') {
        errors.push(`notification ${m.method} is ${entry.direction} in the schema but agentd sent it`);
      }
      const validate = s.notificationParams(m.method);
      if (validate && !validate(m.params)) {
        errors.push(`${m.method} params: ${s.format(validate)}: ${show(m.params)}`);
      }
      return;
    }
    const keys = Object.keys(m).filter((k) => !['jsonrpc', 'id', 'result', 'error'].includes(k));
    if (keys.length) errors.push(`response has unexpected members ${keys.join(', ')}: ${show(m)}`);
    if (!('id' in m) || !(m.id === null || isId(m.id))) errors.push(`response id missing or invalid: ${show(m)}`);
    if (('result' in m) === ('error' in m)) {
      errors.push(`response must have exactly one of result and error: ${show(m)}`);
      return;
    }
    if ('error' in m) {
      if (!s.error(m.error)) errors.push(`error object: ${s.format(s.error)}: ${show(m)}`);
      else if (s.rpcError && !s.rpcError(m.error)) errors.push(`error object vs $defs/RpcError: ${s.format(s.rpcError)}: ${show(m)}`);
      return;
    }
    const method = m[REQUEST_METHOD] ?? requestsById.get(m.id);
    if (method === undefined) {
      errors.push(`result for id ${JSON.stringify(m.id)}, which no request of the client had: ${show(m)}`);
      return;
    }
    succeeded.add(method + '\u0000' + JSON.stringify(m.id));
    if (!s.methods[method]) {
      errors.push(`method ${method} is not in x-methods (result ${show(m.result)})`);
      return;
    }
    const validate = s.result(method);
    if (!validate) {
      errors.push(`x-methods.${method} has no result schema`);
      return;
    }
    if (!validate(m.result)) errors.push(`${method} result: ${s.format(validate)}: ${show(m.result)}`);
  };

  for (const m of messages) {
    if (Array.isArray(m)) {
      if (m.length === 0) errors.push('agentd sent an empty batch response []');
      for (const element of m) checkOne(element, true);
    } else {
      checkOne(m, false);
    }
  }

  for (const message of sent) {
    for (const m of Array.isArray(message) ? message : [message]) {
      if (!m || typeof m !== 'object' || typeof m.method !== 'string' || !('id' in m) || m.params === undefined) continue;
      if (!succeeded.has(m.method + '\u0000' + JSON.stringify(m.id))) continue;
      const validate = s.params(m.method);
      if (validate && !validate(m.params)) {
        errors.push(`agentd accepted ${m.method} params the schema rejects: ${s.format(validate)}: ${show(m.params)}`);
      }
    }
  }
  return { skipped: null, errors, checked };
}

// Asserts that all traffic of `agent` is well-framed and matches the schema.
export function assertTrafficValid(t, agent, assert) {
  assert.deepEqual(agent.protocolErrors, [], 'agentd sent bytes the client could not parse');
  const { skipped, errors, checked } = validateAll(agent.messages, agent.requestsById, { sent: agent.sentMessages });
  if (skipped) {
    t.diagnostic(`schema validation skipped: ${skipped}`);
    return;
  }
  assert.deepEqual(errors, [], `schema validation failed (${errors.length} of ${checked} messages)`);
}
