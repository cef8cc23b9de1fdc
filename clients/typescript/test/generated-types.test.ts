// src/protocol.generated.ts must be what the generator makes from the
// current schema: a schema change without `npm run gen` fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { PACKAGE_DIR } from './helpers.js';

test('protocol.generated.ts is up to date with schema/agentd.schema.json', async () => {
  const generator = pathToFileURL(path.join(PACKAGE_DIR, 'scripts', 'gen-types.mjs')).href;
  const { generateTypes, GENERATED_PATH } = await import(generator);
  const expected: string = await generateTypes();
  const actual = readFileSync(GENERATED_PATH, 'utf8');
  assert.ok(actual === expected,
    `${path.relative(PACKAGE_DIR, GENERATED_PATH)} is stale: run \`npm run gen\` in clients/typescript and commit the result`);
});
