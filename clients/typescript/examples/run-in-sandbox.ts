// Runs `uname -a; id` in a linux sandbox and prints its output as it streams.
//
//   npm run build && node dist/examples/run-in-sandbox.js [path/to/agentd]
//
// The agentd path defaults to $AGENTD_BIN, else build/src/agentd of this repository.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Agentd, AgentdError } from '../src/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const agentdPath = process.argv[2] ?? process.env.AGENTD_BIN ?? path.join(repoRoot, 'build', 'src', 'agentd');

async function main(): Promise<number> {
  await using agentd = await Agentd.spawn({ path: agentdPath, clientInfo: { name: 'run-in-sandbox' } });
  const linux = agentd.backend('linux');
  if (!linux?.available) {
    console.error(`the linux backend is unavailable here: ${linux?.reason ?? 'not built'}`);
    return 2;
  }
  await using sandbox = await agentd.createSandbox({ isolation: 'linux' });
  console.error(`sandbox ${sandbox.id}: network ${sandbox.created?.network}, workdir ${sandbox.created?.workdir}`);

  const exec = await sandbox.start(['sh', '-c', 'uname -a; id']);
  for await (const chunk of exec.output) {
    (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data);
  }
  const exit = await exec.wait();
  console.error(`exit: ${exit.status}${exit.exitCode !== undefined ? ` ${exit.exitCode}` : ''} after ${exit.durationMs} ms`);
  return exit.exitCode ?? 1;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  console.error(error instanceof AgentdError ? `agentd: ${error.message}` : error);
  process.exitCode = 1;
});
