// Shared by the tests: where the agentd binary is, spawning it with a linux
// backend (or skipping with the reason), and process checks through /proc.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Agentd, type Sandbox, type SpawnOptions } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test
export const PACKAGE_DIR = path.resolve(here, '..', '..');
export const REPO_ROOT = path.resolve(PACKAGE_DIR, '..', '..');
export const AGENTD_BIN = process.env.AGENTD_BIN
  ? path.resolve(process.env.AGENTD_BIN)
  : path.join(REPO_ROOT, 'build', 'src', 'agentd');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why agentd cannot be tested here, or null. */
export function missingBinaryReason(): string | null {
  return existsSync(AGENTD_BIN)
    ? null
    : `agentd binary not found at ${AGENTD_BIN} (build it with bash scripts/build.sh, or set AGENTD_BIN)`;
}

/** Spawns agentd for one test and disposes of it afterwards; null (test skipped) when there is no binary. */
export async function agentdFor(t: TestContext, options: SpawnOptions = {}): Promise<Agentd | null> {
  const missing = missingBinaryReason();
  if (missing) {
    t.skip(missing);
    return null;
  }
  const agentd = await Agentd.spawn({ path: AGENTD_BIN, clientInfo: { name: 'client-ts-tests' }, ...options });
  t.after(() => agentd.dispose());
  return agentd;
}

/** agentd and a fresh linux sandbox; null (test skipped, with the reason) when linux is unavailable. */
export async function linuxSandboxFor(t: TestContext): Promise<{ agentd: Agentd; sandbox: Sandbox } | null> {
  const agentd = await agentdFor(t);
  if (!agentd) return null;
  const linux = agentd.backend('linux');
  if (!linux?.available) {
    t.skip(`linux backend unavailable: ${linux?.reason ?? 'not in initialize backends'}`);
    return null;
  }
  const sandbox = await agentd.createSandbox({ isolation: 'linux', labels: { suite: 'client-typescript' } });
  return { agentd, sandbox };
}

export async function waitUntil<T>(predicate: () => T | Promise<T>, what: string, timeoutMs = 10000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

interface ProcStat { ppid: number; state: string; startTime: string }

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]! };
}

/** A process identity that survives pid reuse: pid plus start time. */
export type ProcessId = { pid: number; startTime: string };

export function processId(pid: number): ProcessId | null {
  const stat = procStat(pid);
  return stat ? { pid, startTime: stat.startTime } : null;
}

/** Zombies and reused pids count as gone: nothing of the process runs. */
export function isRunning({ pid, startTime }: ProcessId): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X' && stat.startTime === startTime;
}

/** `root` and every process below it (sandbox inits, exec leaders, helpers), from /proc. */
export function processTree(root: number): ProcessId[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(Number(entry));
    children.set(stat.ppid, siblings);
  }
  const tree: ProcessId[] = [];
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop()!;
    const id = processId(pid);
    if (id) tree.push(id);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

export const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
