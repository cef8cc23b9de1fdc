// One sandbox: start and run commands in it, read and write its files, and
// destroy it. Paths are as the sandbox's processes see them (relative to the
// workdir, or absolute: /workspace/... on linux).
import type { CancellationToken } from 'vscode-jsonrpc/node';

import type { Agentd } from './agentd.js';
import { AgentdError, ClientErrorCodes } from './errors.js';
import type { Exec } from './exec.js';
import {
  ErrorCodes, type ExecRunParams, type ExecRunResult, type ExecStartParams, type FileEntry,
  type FsListResult, type FsWriteParams, type SandboxCreateResult, type SandboxDestroyParams,
  type SandboxDestroyResult, type SandboxId, type SandboxInfoResult, type SandboxSuspendResult,
} from './protocol.generated.js';

/** exec/start params other than the sandbox and argv. Output always comes as bytes (base64 on the wire). */
export type StartOptions = Omit<ExecStartParams, 'sandboxId' | 'argv' | 'encoding'>;

/** exec/run params other than the sandbox and argv, and a token to cancel the run ($/cancelRequest). */
export type RunOptions = Omit<ExecRunParams, 'sandboxId' | 'argv' | 'encoding'> & { token?: CancellationToken };

/** The exec/run result with stdout and stderr decoded to bytes. */
export type RunResult = Omit<ExecRunResult, 'stdout' | 'stderr' | 'encoding' | 'replaced'> & {
  stdout: Uint8Array;
  stderr: Uint8Array;
};

export type WriteFileOptions = Pick<FsWriteParams, 'mode' | 'createParents' | 'permissions'>;

/** The most fs/read and fs/write move per call (16 MiB); larger files take several calls. */
export const FS_CHUNK_BYTES = 16 * 1024 * 1024;

type Argv = readonly string[];

export class Sandbox {
  readonly id: SandboxId;

  /** @internal Use Agentd.createSandbox() or Agentd.sandbox(). */
  constructor(private readonly agentd: Agentd, id: SandboxId, readonly created?: SandboxCreateResult) {
    this.id = id;
  }

  /** Starts a command; its output streams through the returned Exec. */
  start(argv: Argv, options: StartOptions = {}): Promise<Exec> {
    return this.agentd.startExec({ ...options, sandboxId: this.id, argv: argv as ExecStartParams['argv'] });
  }

  /**
   * Runs a command to completion (exec/run) and returns its outcome and output. A command that
   * fails to start is a result with status `setupError`, not an error. Cancel with
   * `options.token`: the run then fails with RequestCancelled (-32800) once agentd has killed it.
   */
  async run(argv: Argv, options: RunOptions = {}): Promise<RunResult> {
    const { token, ...rest } = options;
    const params: ExecRunParams = { ...rest, sandboxId: this.id, argv: argv as ExecRunParams['argv'], encoding: 'base64' };
    const result = await this.agentd.request('exec/run', params, token);
    const { stdout, stderr, encoding: _encoding, replaced: _replaced, ...outcome } = result;
    return { ...outcome, stdout: Buffer.from(stdout, 'base64'), stderr: Buffer.from(stderr, 'base64') };
  }

  /** Reads a whole file, in 16 MiB pieces if it is larger. */
  async readFile(path: string, options: { token?: CancellationToken } = {}): Promise<Uint8Array> {
    const pieces: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const piece = await this.agentd.request('fs/read',
        { sandboxId: this.id, path, offset, length: FS_CHUNK_BYTES, encoding: 'base64' }, options.token);
      const bytes = Buffer.from(piece.data, 'base64');
      pieces.push(bytes);
      offset += bytes.length;
      if (piece.eof || bytes.length === 0) break;
    }
    return Buffer.concat(pieces);
  }

  /** Reads a whole file as UTF-8 text (invalid bytes become U+FFFD). */
  async readTextFile(path: string): Promise<string> {
    return Buffer.from(await this.readFile(path)).toString('utf8');
  }

  /**
   * Writes a file: a string as UTF-8, bytes as they are. Default mode `overwrite` (atomic up to
   * 16 MiB; larger data is written as a first piece, then appended, so it is not atomic).
   */
  async writeFile(path: string, data: Uint8Array | string, options: WriteFileOptions = {}): Promise<number> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let written = 0;
    let offset = 0;
    do {
      const piece = bytes.subarray(offset, offset + FS_CHUNK_BYTES);
      const params: FsWriteParams = { ...options, sandboxId: this.id, path, data: piece.toString('base64') };
      if (offset > 0) {
        params.mode = 'append';
        delete params.permissions;
      }
      written += (await this.agentd.request('fs/write', params)).bytesWritten;
      offset += piece.length;
    } while (offset < bytes.length);
    return written;
  }

  /** Lists a directory (default: the workdir), sorted by name; `truncated` above 10000 entries. */
  listDir(path?: string): Promise<FsListResult> {
    return this.agentd.request('fs/list', path === undefined ? { sandboxId: this.id } : { sandboxId: this.id, path });
  }

  stat(path: string): Promise<FileEntry & { path: string }> {
    return this.agentd.request('fs/stat', { sandboxId: this.id, path });
  }

  async mkdir(path: string, options: { parents?: boolean } = {}): Promise<void> {
    await this.agentd.request('fs/mkdir', { ...options, sandboxId: this.id, path });
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.agentd.request('fs/remove', { ...options, sandboxId: this.id, path });
  }

  async move(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    await this.agentd.request('fs/move', { ...options, sandboxId: this.id, from, to });
  }

  info(): Promise<SandboxInfoResult> {
    return this.agentd.request('sandbox/info', { sandboxId: this.id });
  }

  suspend(): Promise<SandboxSuspendResult> {
    return this.agentd.request('sandbox/suspend', { sandboxId: this.id });
  }

  resume(): Promise<SandboxSuspendResult> {
    return this.agentd.request('sandbox/resume', { sandboxId: this.id });
  }

  /** Kills the sandbox's execs (their exits are reported first) and removes it. */
  destroy(options: Omit<SandboxDestroyParams, 'sandboxId'> = {}): Promise<SandboxDestroyResult> {
    return this.agentd.request('sandbox/destroy', { ...options, sandboxId: this.id });
  }

  /** `await using sandbox = ...`: destroys it, unless it or the connection is already gone. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.destroy();
    } catch (error) {
      const gone = error instanceof AgentdError &&
        (error.code === ErrorCodes.SandboxNotFound || error.code === ClientErrorCodes.ConnectionClosed);
      if (!gone) throw error;
    }
  }
}
