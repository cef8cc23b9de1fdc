// The one error type of this client: what agentd answered (code, message,
// data), or what happened to the connection, with the method that failed.
import { ResponseError, ErrorCodes as RpcLibraryCodes } from 'vscode-jsonrpc/node';

import { ErrorCodes, type ErrorData } from './protocol.generated.js';

/** Codes this client produces itself, outside agentd's range (-32000..-32099 are agentd's). */
export const ClientErrorCodes = {
  /** agentd exited or its pipes closed before the answer came. */
  ConnectionClosed: RpcLibraryCodes.PendingResponseRejected,
  /** The message could not be written to agentd's stdin. */
  WriteFailed: RpcLibraryCodes.MessageWriteError,
  /** agentd could not be started, or did not complete the handshake. */
  SpawnFailed: -32090,
} as const;

const codeNames = new Map<number, string>([
  ...Object.entries(ErrorCodes).map(([name, code]) => [code, name] as [number, string]),
  ...Object.entries(ClientErrorCodes).map(([name, code]) => [code, name] as [number, string]),
]);

/** The name of an error code (`SandboxNotFound`), or `code <n>` for one this client does not know. */
export function errorCodeName(code: number): string {
  return codeNames.get(code) ?? `code ${code}`;
}

export class AgentdError extends Error {
  override readonly name = 'AgentdError';
  /** A code of `ErrorCodes` (agentd's) or `ClientErrorCodes`. */
  readonly code: number;
  /** agentd's `error.data`, when it sent one (sandboxId, execId, feature, fix, ...). */
  readonly data: ErrorData | undefined;
  /** The method of the request that failed, when there was one. */
  readonly method: string | undefined;
  /** agentd's own message, without the method and code added here. */
  readonly rpcMessage: string;

  constructor(code: number, rpcMessage: string, options: { data?: ErrorData; method?: string; cause?: unknown } = {}) {
    const where = options.method ? `${options.method}: ` : '';
    super(`${where}${rpcMessage} (${errorCodeName(code)}, ${code})`, { cause: options.cause });
    this.code = code;
    this.rpcMessage = rpcMessage;
    this.data = options.data;
    this.method = options.method;
  }

  /** The name of `code`, e.g. `SandboxNotFound`. */
  get codeName(): string {
    return errorCodeName(this.code);
  }
}

/** Turns what a vscode-jsonrpc request rejected with into an AgentdError. */
export function toAgentdError(error: unknown, method: string, closedReason?: () => string): AgentdError {
  if (error instanceof AgentdError) return error;
  if (error instanceof ResponseError) {
    if (error.code === ClientErrorCodes.ConnectionClosed && closedReason) {
      return new AgentdError(error.code, `no answer: ${closedReason()}`, { method, cause: error });
    }
    const data = isErrorData(error.data) ? error.data : undefined;
    return new AgentdError(error.code, error.message, { method, cause: error, ...(data ? { data } : {}) });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AgentdError(ClientErrorCodes.WriteFailed, message, { method, cause: error });
}

function isErrorData(value: unknown): value is ErrorData {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
