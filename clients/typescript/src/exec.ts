// One command started with exec/start: its streamed output, its end, and
// the requests that act on it (exec/write, exec/kill, exec/resize).
import { EventQueue } from './event-queue.js';
import type { Agentd } from './agentd.js';
import type { AgentdError } from './errors.js';
import type {
  ExecExitParams, ExecId, ExecKillResult, ExecOutputParams, ExecResizeResult, ExecWriteParams,
  ExecWriteResult, OutputStream, SandboxId, Signal,
} from './protocol.generated.js';

/** One chunk of output, decoded. Chunk boundaries carry no meaning: concatenate a stream's chunks. */
export interface OutputChunk {
  stream: OutputStream;
  /** The exact bytes (a Node Buffer at run time). */
  data: Uint8Array;
  /** 0, 1, 2, ... per stream, without gaps. */
  seq: number;
}

/** What an exec reports, in order: its output chunks, then exactly one exit. */
export type ExecEvent = ({ kind: 'output' } & OutputChunk) | { kind: 'exit'; exit: ExecExitParams };

/** Everything an exec printed, per stream, and how it ended. */
export interface CollectedOutput {
  stdout: Uint8Array;
  stderr: Uint8Array;
  pty: Uint8Array;
  exit: ExecExitParams;
}

/** What an Exec needs from the connection (Agentd). */
export type ExecRequester = Pick<Agentd, 'request'>;

export function decodeOutput(params: Pick<ExecOutputParams, 'data' | 'encoding'>): Uint8Array {
  return Buffer.from(params.data, params.encoding === 'utf8' ? 'utf8' : 'base64');
}

export class Exec {
  readonly id: ExecId;
  readonly sandboxId: SandboxId;
  /** The leader's pid (in the sandbox's pid namespace on linux); null when set-up failed. */
  readonly pid: number | null;

  private readonly queue: EventQueue<ExecEvent>;
  private readonly exitPromise: Promise<ExecExitParams>;
  private settleExit!: { resolve: (exit: ExecExitParams) => void; reject: (error: AgentdError) => void };
  private exitParams: ExecExitParams | undefined;

  constructor(private readonly agentd: ExecRequester, started: { execId: ExecId; pid: number | null }, sandboxId: SandboxId) {
    this.id = started.execId;
    this.pid = started.pid;
    this.sandboxId = sandboxId;
    this.queue = new EventQueue(`the output of exec ${this.id}`);
    this.exitPromise = new Promise((resolve, reject) => {
      this.settleExit = { resolve, reject };
    });
    // wait() hands out this promise; a caller that never waits must not get
    // an unhandled rejection when the connection closes.
    this.exitPromise.catch(() => {});
  }

  /**
   * The output chunks in arrival order (each stream in `seq` order), ending when the exec has
   * exited. Chunks are buffered until read, so read it (or `collect()`) for commands with large
   * output. Iterate either `output` or `events()`, once.
   */
  get output(): AsyncIterable<OutputChunk> {
    const events = this.queue;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const event of events) {
          if (event.kind === 'output') yield { stream: event.stream, data: event.data, seq: event.seq };
        }
      },
    };
  }

  /** Output chunks and then the exit, as one stream of events. */
  events(): AsyncIterable<ExecEvent> {
    return this.queue;
  }

  /** Resolves with the exec/exit params once the exec has ended (whether or not output was read). */
  wait(): Promise<ExecExitParams> {
    return this.exitPromise;
  }

  /** The exit, once it has arrived. */
  get exit(): ExecExitParams | undefined {
    return this.exitParams;
  }

  /** Reads all output to the end and returns it per stream, with the exit. */
  async collect(): Promise<CollectedOutput> {
    const parts: Record<OutputStream, Uint8Array[]> = { stdout: [], stderr: [], pty: [] };
    for await (const chunk of this.output) parts[chunk.stream].push(chunk.data);
    return {
      stdout: Buffer.concat(parts.stdout),
      stderr: Buffer.concat(parts.stderr),
      pty: Buffer.concat(parts.pty),
      exit: await this.wait(),
    };
  }

  /**
   * Writes to the exec's stdin (started with `stdin: "pipe"` or a `pty`): a string as UTF-8
   * text, bytes as they are. `eof: true` closes stdin after writing; `write(undefined, {eof:
   * true})` only closes it. Resolves once agentd has put the bytes in the pipe.
   */
  write(data?: Uint8Array | string, options: { eof?: boolean } = {}): Promise<ExecWriteResult> {
    const params: ExecWriteParams = { execId: this.id };
    if (typeof data === 'string') params.text = data;
    else if (data !== undefined) params.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
    if (options.eof) params.eof = true;
    return this.agentd.request('exec/write', params);
  }

  /** Closes the exec's stdin. */
  closeStdin(): Promise<ExecWriteResult> {
    return this.write(undefined, { eof: true });
  }

  /**
   * Signals the exec's processes (default SIGKILL). The end is reported by `wait()`; a kill that
   * races with the exit may fail with ExecNotFound (-32003): the exec is gone either way.
   */
  kill(signal?: Signal): Promise<ExecKillResult> {
    return this.agentd.request('exec/kill', signal === undefined ? { execId: this.id } : { execId: this.id, signal });
  }

  /** Sets the terminal size of an exec started with `pty`. */
  resize(cols: number, rows: number): Promise<ExecResizeResult> {
    return this.agentd.request('exec/resize', { execId: this.id, cols, rows });
  }

  /** @internal Called by Agentd for each exec/output of this exec. */
  deliverOutput(params: ExecOutputParams): void {
    this.queue.push({ kind: 'output', stream: params.stream, seq: params.seq, data: decodeOutput(params) });
  }

  /** @internal Called by Agentd with this exec's exec/exit. */
  deliverExit(params: ExecExitParams): void {
    if (this.exitParams) return;
    this.exitParams = params;
    this.queue.push({ kind: 'exit', exit: params });
    this.queue.end();
    this.settleExit.resolve(params);
  }

  /** @internal The connection ended before the exit came. */
  fail(error: AgentdError): void {
    if (this.exitParams) return;
    this.queue.end(error);
    this.settleExit.reject(error);
  }
}
