// @agentd/client: a typed client for agentd over stdio JSON-RPC.
//
//   await using agentd = await Agentd.spawn({ path: 'build/src/agentd' });
//   await using sandbox = await agentd.createSandbox({ isolation: 'linux' });
//   const exec = await sandbox.start(['sh', '-c', 'uname -a; id']);
//   for await (const chunk of exec.output) process.stdout.write(chunk.data);
//   console.log(await exec.wait());
export { Agentd, type ExitInfo, type ServerNotification, type SpawnOptions } from './agentd.js';
export { AgentdError, ClientErrorCodes, errorCodeName } from './errors.js';
export { Exec, decodeOutput, type CollectedOutput, type ExecEvent, type OutputChunk } from './exec.js';
export {
  FS_CHUNK_BYTES, Sandbox, type RunOptions, type RunResult, type StartOptions, type WriteFileOptions,
} from './sandbox.js';
export * from './protocol.generated.js';
// Cancellation: pass `source.token` to run() or request(); cancel() sends $/cancelRequest.
export { CancellationToken, CancellationTokenSource } from 'vscode-jsonrpc/node';
