// JSON-RPC 2.0 conformance (the examples of section 7 of the specification as
// a transcript, plus batches sent by the json-rpc-2.0 client library) and the
// LSP-style lifecycle: -32002 before initialize, a second initialize, requests
// after shutdown, and the exit status.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

import { JSONRPCClient, createJSONRPCNotification, createJSONRPCRequest } from 'json-rpc-2.0';

import { ErrorCode, agentdFor, assertTrafficValid } from './lib/agentd.mjs';


function assertError(response, code, id = null) {
  assert.ok(response && !Array.isArray(response), `expected one response object, got ${JSON.stringify(response)}`);
  assert.equal(response.jsonrpc, '2.0');
  assert.deepEqual(response.id, id, `id of ${JSON.stringify(response)}`);
  assert.equal(response.result, undefined);
  assert.equal(response.error?.code, code, JSON.stringify(response));
  assert.equal(typeof response.error.message, 'string');
}

// The only message an exchange produced.
function only(messages) {
  assert.equal(messages.length, 1, `expected exactly one message, got ${JSON.stringify(messages)}`);
  return messages[0];
}

async function initialized(t) {
  const agent = agentdFor(t, { framing: 'line' });
  await agent.initialize();
  return agent;
}

test('spec 7: rpc call with invalid JSON is -32700 with id null', async (t) => {
  const agent = await initialized(t);
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')), ErrorCode.ParseError);
  // Invalid UTF-8 is a parse error too, and the session goes on.
  const badUtf8 = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"x\xff"}', 'latin1'), Buffer.from('\n')]);
  const after = agent.messages.length;
  agent.sendRaw(badUtf8);
  assertError(await agent.waitFor(() => true, { after }), ErrorCode.ParseError);
  assert.deepEqual((await agent.call('sandbox/list', {})).sandboxes, []);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: rpc call with an invalid Request object is -32600 with id null', async (t) => {
  const agent = await initialized(t);
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')), ErrorCode.InvalidRequest);
  // More invalid Request objects of the same kind.
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "id": 1.5, "method": "sandbox/list"}')), ErrorCode.InvalidRequest);
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "sandbox/list"}')), ErrorCode.InvalidRequest);
  assertError(only(await agent.exchange('"just a string"')), ErrorCode.InvalidRequest);
  // The id is echoed when it can be read.
  assertError(only(await agent.exchange('{"jsonrpc": "1.0", "id": 7, "method": "sandbox/list"}')), ErrorCode.InvalidRequest, 7);
  assertError(only(await agent.exchange('{"id": "x", "method": "sandbox/list"}')), ErrorCode.InvalidRequest, 'x');
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "id": 8, "method": "sandbox/list", "params": 3}')), ErrorCode.InvalidRequest, 8);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: batch with invalid JSON is a single -32700', async (t) => {
  const agent = await initialized(t);
  const body = '[ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method" ]';
  assertError(only(await agent.exchange(body)), ErrorCode.ParseError);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: empty array is a single -32600', async (t) => {
  const agent = await initialized(t);
  assertError(only(await agent.exchange('[]')), ErrorCode.InvalidRequest);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: invalid batches answer one -32600 per element', async (t) => {
  const agent = await initialized(t);
  const one = only(await agent.exchange('[1]'));
  assert.ok(Array.isArray(one), `[1] answers an array: ${JSON.stringify(one)}`);
  assert.equal(one.length, 1);
  assertError(one[0], ErrorCode.InvalidRequest);

  const three = only(await agent.exchange('[1,2,3]'));
  assert.ok(Array.isArray(three), `[1,2,3] answers an array: ${JSON.stringify(three)}`);
  assert.equal(three.length, 3);
  for (const r of three) assertError(r, ErrorCode.InvalidRequest);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: mixed batch answers its requests only', async (t) => {
  const agent = await initialized(t);
  const body = JSON.stringify([
    { jsonrpc: '2.0', method: 'sandbox/list', params: {}, id: '1' },
    { jsonrpc: '2.0', method: 'notify_hello', params: [7] },
    { jsonrpc: '2.0', method: 'sandbox/list', params: {}, id: '2' },
    { foo: 'boo' },
    { jsonrpc: '2.0', method: 'foo.get', params: { name: 'myself' }, id: '5' },
    { jsonrpc: '2.0', method: 'exec/list', params: {}, id: '9' },
  ]);
  const batch = only(await agent.exchange(body));
  assert.ok(Array.isArray(batch), JSON.stringify(batch));
  assert.equal(batch.length, 5, JSON.stringify(batch));
  const byId = (id) => batch.filter((r) => r.id === id);
  assert.deepEqual(byId('1').map((r) => r.result), [{ sandboxes: [] }]);
  assert.deepEqual(byId('2').map((r) => r.result), [{ sandboxes: [] }]);
  assert.deepEqual(byId('9').map((r) => r.result), [{ execs: [] }]);
  assert.equal(byId('5').length, 1);
  assertError(byId('5')[0], ErrorCode.MethodNotFound, '5');
  assert.equal(byId(null).length, 1);
  assertError(byId(null)[0], ErrorCode.InvalidRequest);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: a batch of notifications gets no response at all', async (t) => {
  const agent = await initialized(t);
  const body = JSON.stringify([
    { jsonrpc: '2.0', method: 'notify_sum', params: [1, 2, 4] },
    { jsonrpc: '2.0', method: 'notify_hello', params: [7] },
  ]);
  assert.deepEqual(await agent.exchange(body), []);
  // Single notifications, known or not, are not answered either.
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","method":"notify_hello","params":[7]}'), []);
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","method":"initialized","params":{}}'), []);
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","method":"$/progress","params":{"token":1,"value":{}}}'), []);
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":12345}}'), []);
  // Responses from the client are not answered.
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","id":77,"result":{}}'), []);
  assertTrafficValid(t, agent, assert);
});

test('spec 7: a call of a non-existent method is -32601', async (t) => {
  const agent = await initialized(t);
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')), ErrorCode.MethodNotFound, '1');
  // Unknown `$/` requests too (unknown `$/` notifications are ignored).
  assertError(only(await agent.exchange('{"jsonrpc": "2.0", "method": "$/unknown", "id": 2}')), ErrorCode.MethodNotFound, 2);
  assertTrafficValid(t, agent, assert);
});

test('request ids of every kind are echoed exactly', async (t) => {
  const agent = await initialized(t);
  for (const id of [0, -1, 2 ** 40, 'abc', '', 'ünïcödé ✓']) {
    const response = await agent.request('sandbox/list', {}, { id });
    assert.deepEqual(response.id, id);
    assert.deepEqual(response.result, { sandboxes: [] });
  }
  assertTrafficValid(t, agent, assert);
});

test('params of the wrong shape are -32602', async (t) => {
  const agent = await initialized(t);
  const positional = await agent.callError('sandbox/list', [1, 2]);
  assert.equal(positional.code, ErrorCode.InvalidParams);
  const unknownField = await agent.callError('sandbox/list', { bogus: true });
  assert.equal(unknownField.code, ErrorCode.InvalidParams);
  assert.match(unknownField.message, /params\.bogus/);
  assertTrafficValid(t, agent, assert);
});

test('json-rpc-2.0 client: requests and batches', async (t) => {
  const agent = await initialized(t);
  const client = new JSONRPCClient((payload) => agent.send(payload));
  const unsubscribe = agent.subscribe((message) => {
    const isResponse = (m) => m && typeof m === 'object' && !('method' in m);
    if (Array.isArray(message) ? message.every(isResponse) : isResponse(message)) client.receive(message);
  });
  t.after(unsubscribe);

  const sandbox = await client.request('sandbox/create', { isolation: 'none' });
  assert.equal(sandbox.isolation, 'none');

  const responses = await client.requestAdvanced([
    createJSONRPCRequest('b-1', 'sandbox/list', {}),
    createJSONRPCNotification('notify_hello', [7]),
    createJSONRPCRequest('b-2', 'exec/run', { sandboxId: sandbox.sandboxId, argv: ['echo', 'batched'], encoding: 'utf8' }),
    createJSONRPCRequest('b-3', 'no/such/method', {}),
    createJSONRPCRequest('b-4', 'sandbox/info', { sandboxId: sandbox.sandboxId }),
  ]);
  assert.equal(responses.length, 4);
  const [list, run, missing, info] = responses;
  assert.deepEqual(list.result.sandboxes.map((s) => s.sandboxId), [sandbox.sandboxId]);
  assert.equal(run.result.stdout, 'batched\n');
  assert.equal(run.result.status, 'exited');
  assert.equal(missing.error.code, ErrorCode.MethodNotFound);
  assert.equal(info.result.sandboxId, sandbox.sandboxId);

  // The batch with a long-running request is still answered as one array.
  const batches = agent.messages.filter(Array.isArray);
  assert.equal(batches.length, 1, 'one array for the batch');
  assert.equal(batches[0].length, 4);

  client.notify('notify_hello', [7]);
  assert.deepEqual(await client.request('exec/list', {}), { execs: [] });
  assertTrafficValid(t, agent, assert);
});

test('lifecycle: requests before initialize are -32002, notifications are dropped', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  const early = only(await agent.exchange('{"jsonrpc":"2.0","id":1,"method":"sandbox/create","params":{"isolation":"none"}}'));
  assertError(early, ErrorCode.ServerNotInitialized, 1);
  assertError(only(await agent.exchange('{"jsonrpc":"2.0","id":2,"method":"shutdown"}')), ErrorCode.ServerNotInitialized, 2);
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","method":"initialized","params":{}}'), []);
  // Malformed messages are still answered before initialize.
  assertError(only(await agent.exchange('{"jsonrpc":"2.0","id":3,')), ErrorCode.ParseError);

  const init = await agent.initialize();
  assert.equal(init.serverInfo.name, 'agentd');
  assert.deepEqual((await agent.call('sandbox/list', {})).sandboxes, [], 'nothing was created before initialize');
  assertTrafficValid(t, agent, assert);
});

test('lifecycle: a second initialize is -32600', async (t) => {
  const agent = await initialized(t);
  assertError(await agent.request('initialize', {}, { id: 'again' }), ErrorCode.InvalidRequest, 'again');
  assert.deepEqual((await agent.call('sandbox/list', {})).sandboxes, []);
  assertTrafficValid(t, agent, assert);
});

test('lifecycle: after shutdown requests are -32600 and exit ends with status 0', async (t) => {
  const agent = await initialized(t);
  const sandbox = await agent.createSandbox();
  const shutdown = await agent.request('shutdown', undefined, { id: 'sd' });
  assert.deepEqual(shutdown, { jsonrpc: '2.0', id: 'sd', result: null });
  assertError(await agent.request('sandbox/list', {}, { id: 'late' }), ErrorCode.InvalidRequest, 'late');
  assertError(await agent.request('initialize', {}, { id: 'late-init' }), ErrorCode.InvalidRequest, 'late-init');
  assertError(await agent.request('shutdown', undefined, { id: 'sd2' }), ErrorCode.InvalidRequest, 'sd2');
  assert.deepEqual(await agent.exchange('{"jsonrpc":"2.0","method":"notify_hello"}').then((m) => m.length), 0);
  agent.notify('exit');
  assert.deepEqual(await agent.waitExit(), { code: 0, signal: null });
  assert.ok(!existsSync(sandbox.workdir), 'exit removed the workdir of the remaining sandbox');
  assertTrafficValid(t, agent, assert);
});

test('lifecycle: exit without shutdown ends with status 1', async (t) => {
  const agent = await initialized(t);
  await agent.createSandbox();
  agent.notify('exit');
  assert.deepEqual(await agent.waitExit(), { code: 1, signal: null });
  assertTrafficValid(t, agent, assert);
});

test('lifecycle: exit before initialize ends with status 1', async (t) => {
  const agent = agentdFor(t, { framing: 'line' });
  agent.notify('exit');
  assert.deepEqual(await agent.waitExit(), { code: 1, signal: null });
  assert.deepEqual(agent.messages, []);
});
