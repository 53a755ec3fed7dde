#!/usr/bin/env node
/**
 * How long a large policy takes to load from its file: the peer workload's
 * policy written out as JSON and as YAML, then read (parse and merge),
 * validated, compiled, and checked as `gatehouse check` does (lint included).
 * The baseline, in the same run, is the same JSON file read by the YAML
 * parser, which is how every policy file was read before JSON got its own
 * path. From dist/ (npm run build first).
 *
 *   node scripts/bench-policy-load.mjs [--workload FILE] [--rounds N]
 *
 * Prints a table, then, as the last line of stdout, a JSON summary. Exits 3
 * on invalid flags or a missing workload.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { workloadToPolicy } from '../bench/peer-adapter.mjs';
import { readFlags, UsageError } from './lib/bench-flags.mjs';
import { LARGE_WORKLOAD, requireWorkload } from './lib/peer-harness.mjs';

const args = { workload: LARGE_WORKLOAD, rounds: 3 };
try {
  readFlags(process.argv.slice(2), (flag, { value, count }) => {
    if (flag === '--workload') args.workload = value();
    else if (flag === '--rounds') args.rounds = count(1);
    else throw new UsageError(`unknown flag \`${flag}\`: see the header of scripts/bench-policy-load.mjs`);
  });
  requireWorkload(args.workload);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`bench-policy-load: ${e.message}\n`);
  process.exit(3);
}

const { parsePolicyDocument, validatePolicy, checkPolicy, compileValidatedPolicy } =
  await import('../dist/core/policy/index.js');
const { systemClock } = await import('../dist/system.js');

const workload = JSON.parse(readFileSync(args.workload, 'utf8'));
const document = workloadToPolicy(workload);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-load-'));
const files = {
  json: { file: join(dir, 'policy.json'), text: JSON.stringify(document, null, 2) },
  yaml: { file: join(dir, 'policy.yaml'), text: stringify(document) },
};
for (const f of Object.values(files)) writeFileSync(f.file, f.text);

/** The median of `rounds` timings of `run`, in milliseconds. */
function time(rounds, run) {
  const ms = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return Math.round(ms[ms.length >> 1]);
}

const rows = [];
const measure = (what, rounds, run) => rows.push({ what, ms: time(rounds, run) });
try {
  const now = Date.now();
  measure('read JSON file', args.rounds, () => parsePolicyDocument([files.json]));
  measure('read JSON file with the YAML parser (baseline)', 1, () =>
    parsePolicyDocument([files.json], { json: false }),
  );
  measure('read YAML file', 1, () => parsePolicyDocument([files.yaml]));
  const doc = parsePolicyDocument([files.json]);
  measure('validate', args.rounds, () => validatePolicy(doc));
  const policy = validatePolicy(doc).policy;
  measure('compile', args.rounds, () => compileValidatedPolicy(policy, { clock: systemClock }));
  measure('check JSON file (read, validate, lint)', args.rounds, () => checkPolicy([files.json], { now }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const mb = (text) => (Buffer.byteLength(text) / 1e6).toFixed(1);
console.log(
  `policy of ${document.permissions.length} permission rules, ${document.workloads.length} workloads: ` +
    `JSON ${mb(files.json.text)} MB, YAML ${mb(files.yaml.text)} MB`,
);
for (const r of rows) console.log(`${r.what.padEnd(50)} ${String(r.ms).padStart(7)} ms`);
const by = Object.fromEntries(rows.map((r) => [r.what, r.ms]));
console.log(
  JSON.stringify({
    bench: 'policy-load',
    jsonMB: Number(mb(files.json.text)),
    yamlMB: Number(mb(files.yaml.text)),
    readJsonMs: by['read JSON file'],
    readJsonWithYamlParserMs: by['read JSON file with the YAML parser (baseline)'],
    readYamlMs: by['read YAML file'],
    validateMs: by.validate,
    compileMs: by.compile,
    checkJsonMs: by['check JSON file (read, validate, lint)'],
  }),
);
