// A connection to one agentd child process: spawns it, speaks JSON-RPC to it
// with vscode-jsonrpc (Content-Length framing on stdin/stdout), routes
// exec/output and exec/exit to their Exec, and shuts it down.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import {
  createMessageConnection, StreamMessageReader, StreamMessageWriter,
  type CancellationToken, type MessageConnection,
} from 'vscode-jsonrpc/node';

import { AgentdError, ClientErrorCodes, toAgentdError } from './errors.js';
import { Exec } from './exec.js';
import type {
  AgentdMethods, AgentdNotifications, BackendInfo, ExecExitParams, ExecId, ExecOutputParams, ExecStartParams,
  InitializeResult, SandboxCreateParams, SandboxId, SandboxListParams, SandboxSummary,
} from './protocol.generated.js';
import { Sandbox } from './sandbox.js';

export interface SpawnOptions {
  /** The agentd executable. Default: $AGENTD_BIN, else `agentd` on PATH. */
  path?: string;
  args?: string[];
  /** agentd's environment (default: this process's). Execs never see it unless they ask (inheritEnv). */
  env?: NodeJS.ProcessEnv;
  /** Where agentd's log goes. `pipe` (default) keeps its tail for error messages (`stderrTail`). */
  stderr?: 'pipe' | 'inherit' | 'ignore';
  /** Sent in initialize, for agentd's log. */
  clientInfo?: { name: string; version?: string };
  /** How long dispose() waits for each step (shutdown, then exit) before killing agentd. Default 2000 ms. */
  shutdownTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Params<M extends keyof AgentdMethods> = AgentdMethods[M]['params'];
type Result<M extends keyof AgentdMethods> = AgentdMethods[M]['result'];
/** Notifications agentd sends (x-notifications with direction toClient). */
export type ServerNotification = {
  [N in keyof AgentdNotifications]: AgentdNotifications[N]['direction'] extends 'toClient' ? N : never
}[keyof AgentdNotifications];
type NotificationHandler<N extends ServerNotification> = (params: AgentdNotifications[N]['params']) => void;
type EarlyEvent = { method: 'exec/output'; params: ExecOutputParams } | { method: 'exec/exit'; params: ExecExitParams };

const STDERR_TAIL_BYTES = 16 * 1024;

export class Agentd {
  /** What agentd answered to initialize: version, backends and their features, limits, profiles. */
  initializeResult!: InitializeResult;

  private readonly connection: MessageConnection;
  private readonly execs = new Map<ExecId, Exec>();
  // Output and exits of execs whose exec/start answer is still on its way
  // to the caller: kept until the Exec exists (see startExec).
  private readonly early = new Map<ExecId, EarlyEvent[]>();
  private startsInFlight = 0;
  private readonly listeners = new Map<string, Set<(params: never) => void>>();
  private stderrText = '';
  private exitInfo: ExitInfo | null = null;
  private readonly exited: Promise<ExitInfo>;
  private closed = false;
  private disposing: Promise<ExitInfo> | null = null;

  private constructor(private readonly child: ChildProcess, private readonly options: SpawnOptions) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderrText = (this.stderrText + text).slice(-STDERR_TAIL_BYTES);
    });
    child.stdin?.on('error', () => {}); // EPIPE once agentd is gone: reported as a closed connection
    this.connection = createMessageConnection(
      new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    this.connection.onNotification('exec/output', (params: ExecOutputParams) => this.route({ method: 'exec/output', params }));
    this.connection.onNotification('exec/exit', (params: ExecExitParams) => this.route({ method: 'exec/exit', params }));
    this.connection.onClose(() => this.onConnectionClosed());
    this.connection.listen();
  }

  /**
   * Calls `handler` with the params of every `method` notification from now on (exec/output and
   * exec/exit of every exec included, also those started with a raw request). Returns a
   * function that unsubscribes.
   */
  onNotification<N extends ServerNotification>(method: N, handler: NotificationHandler<N>): () => void {
    let handlers = this.listeners.get(method);
    if (!handlers) {
      handlers = new Set();
      this.listeners.set(method, handlers);
      // exec/output and exec/exit already have their handler (route).
      if (method !== 'exec/output' && method !== 'exec/exit') {
        this.connection.onNotification(method, (params: AgentdNotifications[N]['params']) => this.notifyListeners(method, params));
      }
    }
    handlers.add(handler as (params: never) => void);
    return () => handlers.delete(handler as (params: never) => void);
  }

  /** Starts agentd, sends initialize and initialized. */
  static async spawn(options: SpawnOptions = {}): Promise<Agentd> {
    const path = options.path ?? process.env.AGENTD_BIN ?? 'agentd';
    const child = spawn(path, options.args ?? [], {
      stdio: ['pipe', 'pipe', options.stderr ?? 'pipe'],
      env: options.env ?? process.env,
    });
    try {
      await once(child, 'spawn');
    } catch (error) {
      throw new AgentdError(ClientErrorCodes.SpawnFailed,
        `cannot start agentd from ${JSON.stringify(path)}: ${(error as Error).message}; ` +
        'build it (bash scripts/build.sh), then pass its path in {path} or set AGENTD_BIN', { cause: error });
    }
    const agentd = new Agentd(child, options);
    try {
      await agentd.initialize();
    } catch (error) {
      await agentd.dispose();
      throw await agentd.handshakeError(error, path);
    }
    return agentd;
  }

  /** agentd's process id. */
  get pid(): number {
    return this.child.pid!;
  }

  /** The last 16 KiB of agentd's log (with `stderr: 'pipe'`). */
  get stderrTail(): string {
    return this.stderrText;
  }

  /** How agentd ended, once it has. */
  get exitStatus(): ExitInfo | null {
    return this.exitInfo;
  }

  /** The backend named `name` ("linux", "host-direct") as initialize reported it. */
  backend(name: string): BackendInfo | undefined {
    return this.initializeResult.backends.find((b) => b.name === name);
  }

  /** Sends any request of the protocol; resolves with its result or rejects with AgentdError. */
  async request<M extends keyof AgentdMethods>(method: M, params: Params<M>, token?: CancellationToken): Promise<Result<M>> {
    if (this.closed) {
      throw new AgentdError(ClientErrorCodes.ConnectionClosed, `not sent: ${this.closedReason()}`, { method });
    }
    try {
      return await (token
        ? this.connection.sendRequest<Result<M>>(method, params, token)
        : this.connection.sendRequest<Result<M>>(method, params));
    } catch (error) {
      throw toAgentdError(error, method, () => this.closedReason());
    }
  }

  /** Creates a sandbox. `isolation` must be chosen explicitly ("linux", or "none" for host-direct). */
  async createSandbox(params: SandboxCreateParams): Promise<Sandbox> {
    const created = await this.request('sandbox/create', params);
    return new Sandbox(this, created.sandboxId, created);
  }

  /** A handle on an existing sandbox (e.g. one from listSandboxes()). */
  sandbox(sandboxId: SandboxId): Sandbox {
    return new Sandbox(this, sandboxId);
  }

  async listSandboxes(params: SandboxListParams = {}): Promise<SandboxSummary[]> {
    return (await this.request('sandbox/list', params)).sandboxes;
  }

  /**
   * Starts a command (exec/start). Its exec/output and exec/exit may arrive before the answer
   * has reached this function's caller; they are kept by exec id until the Exec exists, so
   * nothing is lost.
   */
  async startExec(params: Omit<ExecStartParams, 'encoding'>): Promise<Exec> {
    this.startsInFlight += 1;
    try {
      const started = await this.request('exec/start', { ...params, encoding: 'base64' });
      const exec = new Exec(this, started, params.sandboxId);
      this.execs.set(exec.id, exec);
      for (const event of this.early.get(exec.id) ?? []) this.deliver(exec, event);
      this.early.delete(exec.id);
      return exec;
    } finally {
      this.startsInFlight -= 1;
      // Events kept for ids no start claimed belong to execs this client
      // did not start (raw request('exec/start')): drop them.
      if (this.startsInFlight === 0) this.early.clear();
    }
  }

  /**
   * Ends agentd: shutdown, then exit, waiting `shutdownTimeoutMs` for each; then SIGKILL if it
   * still runs. agentd kills every exec and removes every sandbox on its way out. Safe to call
   * more than once; resolves with how the process ended.
   */
  dispose(): Promise<ExitInfo> {
    this.disposing ??= this.shutdownAndExit();
    return this.disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  private async initialize(): Promise<void> {
    const clientInfo = { name: '@agentd/client', version: '0.1.0', ...this.options.clientInfo };
    this.initializeResult = await this.request('initialize', { processId: process.pid, clientInfo });
    await this.connection.sendNotification('initialized', {});
  }

  // An initialize that failed because agentd ended (bad arguments, a bad
  // config file, not agentd at all) says so, with the end of its log.
  private async handshakeError(error: unknown, path: string): Promise<unknown> {
    const ended = error instanceof AgentdError &&
      (error.code === ClientErrorCodes.ConnectionClosed || error.code === ClientErrorCodes.WriteFailed);
    if (!ended) return error;
    // Its last log lines may still be in the pipe.
    if (this.child.stderr && !this.child.stderr.closed) {
      await withTimeout(once(this.child.stderr, 'close'), 500).catch(() => {});
    }
    return new AgentdError(ClientErrorCodes.SpawnFailed,
      `${JSON.stringify(path)} ended before answering initialize: ${this.closedReason()}; ` +
      'check its arguments and log, and that the path is agentd', { method: 'initialize', cause: error });
  }

  private notifyListeners<N extends ServerNotification>(method: N, params: AgentdNotifications[N]['params']): void {
    for (const handler of this.listeners.get(method) ?? []) (handler as NotificationHandler<N>)(params);
  }

  private route(event: EarlyEvent): void {
    this.routeToExec(event);
    // After the exec has its event: a throwing handler cannot take it away.
    this.notifyListeners(event.method, event.params);
  }

  private routeToExec(event: EarlyEvent): void {
    const exec = this.execs.get(event.params.execId);
    if (exec) {
      this.deliver(exec, event);
      return;
    }
    if (this.startsInFlight === 0) return; // not an exec this client started
    const kept = this.early.get(event.params.execId);
    if (kept) kept.push(event);
    else this.early.set(event.params.execId, [event]);
  }

  private deliver(exec: Exec, event: EarlyEvent): void {
    if (event.method === 'exec/output') {
      exec.deliverOutput(event.params);
    } else {
      exec.deliverExit(event.params);
      this.execs.delete(exec.id);
    }
  }

  private onConnectionClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new AgentdError(ClientErrorCodes.ConnectionClosed,
      `the exec did not report its exit: ${this.closedReason()}`);
    for (const exec of this.execs.values()) exec.fail(error);
    this.execs.clear();
    this.early.clear();
    this.connection.dispose(); // rejects the requests still waiting for an answer
  }

  private closedReason(): string {
    const status = this.exitInfo
      ? `agentd exited (${this.exitInfo.signal ?? `status ${this.exitInfo.code}`})`
      : 'the connection to agentd closed';
    const tail = this.stderrText.trim().split('\n').slice(-3).join(' | ');
    return tail ? `${status}; its log ends with: ${tail}` : status;
  }

  private async shutdownAndExit(): Promise<ExitInfo> {
    const timeoutMs = this.options.shutdownTimeoutMs ?? 2000;
    if (!this.exitInfo && !this.closed) {
      try {
        await withTimeout(this.connection.sendRequest('shutdown'), timeoutMs);
        await this.connection.sendNotification('exit');
      } catch {
        // No answer in time or the connection broke: closing stdin and the kill below end it.
      }
      this.child.stdin?.end(); // agentd also exits on stdin EOF
    }
    if (!this.exitInfo && !(await withTimeout(this.exited, timeoutMs).then(() => true, () => false))) {
      this.child.kill('SIGKILL');
    }
    const status = await this.exited;
    this.onConnectionClosed();
    return status;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
