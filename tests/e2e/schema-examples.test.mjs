// Every example exchange in schema/examples/ (the examples of docs/protocol.md) must match the
// schema: what agentd sent through validateAll (results, errors, notifications), and what the
// client sent (requests of known methods, notifications that go to agentd, params the schema
// accepts). Needs no agentd binary: the examples were recorded by scripts/record_examples.py.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { REPO_ROOT, loadSchema, validateAll } from './lib/agentd.mjs';

const EXAMPLES_DIR = path.join(REPO_ROOT, 'schema', 'examples');
const exampleFiles = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json')).sort();

function readExample(file) {
  return JSON.parse(readFileSync(path.join(EXAMPLES_DIR, file), 'utf8'));
}

// The messages of a transcript, batches flattened: [{ sent, message }].
function messagesOf(example) {
  const out = [];
  for (const step of example.transcript) {
    const sent = 'send' in step;
    const message = sent ? step.send : step.receive;
    for (const m of Array.isArray(message) ? message : [message]) out.push({ sent, message: m });
  }
  return out;
}

// Problems with what the client sent: unknown methods, wrong direction, params the schema
// rejects for notifications (request params are checked by validateAll once they succeeded).
function clientProblems(schema, sent) {
  const problems = [];
  for (const m of sent) {
    if (m?.jsonrpc !== '2.0' || typeof m.method !== 'string') {
      problems.push(`not a JSON-RPC 2.0 request or notification: ${JSON.stringify(m)}`);
    } else if ('id' in m) {
      if (!schema.methods[m.method]) problems.push(`request of unknown method ${m.method}`);
    } else {
      const entry = schema.notifications[m.method];
      if (!entry) problems.push(`notification ${m.method} is not in x-notifications`);
      else if (entry.direction && entry.direction !== 'toServer') problems.push(`${m.method} is ${entry.direction}, but the client sent it`);
      const validate = entry && schema.notificationParams(m.method);
      if (validate && m.params !== undefined && !validate(m.params)) {
        problems.push(`${m.method} params: ${schema.format(validate)}`);
      }
    }
  }
  return problems;
}

// Every request of the transcript is answered exactly once, and nothing else is answered.
function answerProblems(sent, received) {
  const asked = sent.filter((m) => m && 'id' in m && typeof m.method === 'string').map((m) => JSON.stringify(m.id));
  const answered = received.filter((m) => m && !('method' in m) && m.id !== null).map((m) => JSON.stringify(m.id));
  const problems = [];
  for (const id of new Set([...asked, ...answered])) {
    const a = asked.filter((x) => x === id).length;
    const b = answered.filter((x) => x === id).length;
    if (a !== 1 || b !== 1) problems.push(`id ${id}: sent ${a} time(s), answered ${b} time(s)`);
  }
  return problems;
}

test('schema/examples holds example exchanges', () => {
  assert.ok(exampleFiles.length > 0, `no *.json in ${EXAMPLES_DIR}`);
});

for (const file of exampleFiles) {
  test(`schema/examples/${file} matches the schema`, () => {
    const schema = loadSchema();
    assert.ok(schema, 'schema/agentd.schema.json is missing');
    const example = readExample(file);
    assert.ok(Array.isArray(example.transcript) && example.transcript.length > 0, 'transcript must be a non-empty array');
    for (const [i, step] of example.transcript.entries()) {
      assert.equal(['send', 'receive'].filter((k) => k in step).length, 1, `transcript[${i}] needs exactly one of send and receive`);
    }
    const known = { ...schema.methods, ...schema.notifications };
    assert.ok(example.method in known, `"method" ${example.method} is not in x-methods or x-notifications`);

    const all = messagesOf(example);
    const sent = all.filter((x) => x.sent).map((x) => x.message);
    const received = all.filter((x) => !x.sent).map((x) => x.message);
    assert.ok(all.some((x) => x.message?.method === example.method),
      `the example documents ${example.method} but no message of the transcript uses it`);

    assert.deepEqual(clientProblems(schema, sent), [], 'client messages');
    assert.deepEqual(answerProblems(sent, received), [], 'request/response pairing');
    const requestsById = new Map(sent.filter((m) => 'id' in m).map((m) => [m.id, m.method]));
    const receivedSteps = example.transcript.filter((s) => 'receive' in s).map((s) => s.receive);
    const { skipped, errors, checked } = validateAll(receivedSteps, requestsById, { sent });
    assert.equal(skipped, null);
    assert.deepEqual(errors, [], `schema validation failed (${errors.length} of ${checked} messages)`);
  });
}
