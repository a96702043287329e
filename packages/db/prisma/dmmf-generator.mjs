#!/usr/bin/env node
// A Prisma generator (the JSON-RPC protocol of @prisma/generator-helper, spoken directly): writes
// the schema's DMMF to <output>/dmmf.json, which test/schema.test.ts compares with the database
// the hand-written migrations produce. Prisma 7's client no longer exposes the DMMF itself.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const reply = (id, result) => process.stderr.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.method === 'getManifest') {
    reply(msg.id, { manifest: { prettyName: 'DMMF (schema test)', defaultOutput: '../src/generated' } });
  } else if (msg.method === 'generate') {
    const out = msg.params.generator.output.value;
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'dmmf.json'), JSON.stringify(msg.params.dmmf.datamodel, null, 1));
    reply(msg.id, null);
  }
});
