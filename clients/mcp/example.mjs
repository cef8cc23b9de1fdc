// agentd as an MCP tool server, from the official MCP SDK client: spawn
// `agentd --mcp`, list its tools, run a command in a linux sandbox with its
// output streamed as progress notifications, print the result.
//   node clients/mcp/example.mjs [command]     (AGENTD_BIN: the binary)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const agentd = process.env.AGENTD_BIN ?? path.join(repo, 'build/src/agentd');
const command = process.argv[2] ?? 'uname -a; id; for i in 1 2 3; do echo tick $i; sleep 0.2; done';

const client = new Client({ name: 'agentd-mcp-example', version: '0.0.0' });
await client.connect(new StdioClientTransport({ command: agentd, args: ['--mcp'], stderr: 'inherit' }));
const { tools } = await client.listTools();
console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);

const sandbox = await client.callTool({ name: 'sandbox_create', arguments: { isolation: 'linux' } });
if (sandbox.isError) {
  console.error(`sandbox_create failed: ${sandbox.content.map((c) => c.text).join('\n')}`);
  process.exit(1);
}
const { sandboxId } = sandbox.structuredContent;
console.log(`sandbox ${sandboxId}; running: ${command}`);
const result = await client.callTool(
  { name: 'exec', arguments: { sandboxId, command } },
  undefined,
  // Each output chunk arrives as a progress notification while the command runs.
  { onprogress: (p) => process.stdout.write(`[progress] ${p.message ?? ''}`), resetTimeoutOnProgress: true },
);
console.log(`result${result.isError ? ' (isError)' : ''}:\n${result.content.map((c) => c.text).join('\n')}`);
await client.callTool({ name: 'sandbox_destroy', arguments: { sandboxId } });
await client.close();
process.exit(result.isError ? 1 : 0);
