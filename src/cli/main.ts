#!/usr/bin/env node
import { createRequire } from 'node:module';
import { GatehouseError } from '../core/errors.js';
import { systemClock } from '../system.js';
import { ApiError } from './api-client.js';
import * as assess from './commands/assess.js';
import * as attest from './commands/attest.js';
import * as audit from './commands/audit.js';
import * as blastRadius from './commands/blast-radius.js';
import * as bundle from './commands/bundle.js';
import * as check from './commands/check.js';
import * as decide from './commands/decide.js';
import * as decisions from './commands/decisions.js';
import * as entry from './commands/entry.js';
import * as flows from './commands/flows.js';
import * as grant from './commands/grant.js';
import * as issuer from './commands/issuer.js';
import * as keys from './commands/keys.js';
import * as map from './commands/map.js';
import * as policyVerb from './commands/policy.js';
import * as privileges from './commands/privileges.js';
import * as proxy from './commands/proxy.js';
import * as revoke from './commands/revoke.js';
import * as serve from './commands/serve.js';
import * as simulate from './commands/simulate.js';
import * as suggest from './commands/suggest.js';
import * as svid from './commands/svid.js';
import * as token from './commands/token.js';
import { EXIT, processIo, type CliIo } from './io.js';
import { UsageError } from './usage-error.js';
import { terminalSafe } from './terminal-safe.js';

interface Verb {
  usage: string;
  run(argv: string[], io: CliIo, clock: () => number): Promise<number>;
}

const VERBS: Record<string, Verb> = {
  attest,
  bundle,
  entry,
  grant,
  issuer,
  keys,
  revoke,
  serve,
  svid,
  token,
  check,
  decide,
  decisions,
  audit,
  'blast-radius': blastRadius,
  policy: policyVerb,
  privileges,
  flows,
  map,
  simulate,
  suggest,
  assess,
  proxy,
};

const HELP = `gatehouse — Zero Trust control plane for non-human identities

usage: gatehouse <command> [options]

commands:
  check    validate and lint policy files (exit 3 on errors)
  decide   decide requests against a policy, with explanations

exposure (offline, from the policy, an inventory and the decision log):
  audit         findings mapped to OWASP NHI Top 10 and NIST, as a table, JSON or HTML
  privileges    granted vs used privileges, and a tightened policy
  blast-radius  what a compromised identity or credential reaches, hop by hop

rollout (observe → simulate → enforce, from observed flows; docs/rollout.md):
  flows     import flows (VPC Flow Logs, Hubble, decision log) as Gatehouse flow records
  map       the dependency map: who talks to whom, as a table, JSON, DOT or Mermaid
  simulate  replay flows against a candidate policy: coverage, breaks, promotion verdicts
  suggest   a least-privilege policy from observed traffic
  assess    readiness per service and the next step: zone first, microsegment, enforce

identity (talk to a running server):
  serve    run the control plane: identity API, trust bundle, decisions
  entry    create, list, show, disable and offboard registration entries; join tokens
  attest   prove a workload's identity and obtain its SVIDs (join token, OIDC, renewal)
  svid     issue a JWT-SVID or an X.509-SVID
  token    verify a JWT-SVID or an X.509-SVID
  revoke   revoke a credential, an identity, an entry or a grant
  grant    start, end and list JIT task grants
  issuer   trust an external OIDC issuer for federation
  keys     list and rotate the trust domain's signing keys
  bundle   print the trust bundle (JSON or PEM)
  decisions  query, export and verify the decision log
  proxy    enforce the policy in front of one service: a reverse proxy deciding in-process
  policy   push, list, activate (roll back) and diff the server's policy versions
  version  print the version

Run \`gatehouse <command> --help\` for a command's options. Docs: docs/cli.md`;

/** Runs the CLI; returns the exit code. Errors are printed, never thrown. */
export async function main(
  argv: string[],
  io: CliIo,
  clock: () => number = () => systemClock.now(),
): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === 'help' || verb === '--help' || verb === '-h') {
    io.stdout.write(HELP + '\n');
    return verb ? EXIT.ok : EXIT.invalidInput;
  }
  if (verb === 'version' || verb === '--version') {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    io.stdout.write(`gatehouse ${pkg.version}\n`);
    return EXIT.ok;
  }
  const command = VERBS[verb];
  if (!command) {
    io.stderr.write(`gatehouse: unknown command \`${terminalSafe(verb)}\`\n\n${HELP}\n`);
    return EXIT.invalidInput;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage + '\n');
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io, clock);
  } catch (e) {
    if (
      e instanceof UsageError ||
      (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      io.stderr.write(`gatehouse ${verb}: ${terminalSafe(lowerFirst(e.message))}\n\n${command.usage}\n`);
      return EXIT.invalidInput;
    }
    if (e instanceof ApiError) {
      io.stderr.write(`gatehouse ${verb}: ${terminalSafe(e.message)}\n`);
      return e.exitCode;
    }
    if (e instanceof GatehouseError) {
      io.stderr.write(`gatehouse ${verb}: ${terminalSafe(e.message)}\n`);
      if (e.problems && e.problems.length > 1)
        for (const p of e.problems.slice(1)) io.stderr.write(`  ${terminalSafe(p.message)}\n`);
      return e.code === 'policy_io_error' || e.code.startsWith('policy_') || e.code === 'request_invalid'
        ? EXIT.invalidInput
        : EXIT.error;
    }
    io.stderr.write(
      `gatehouse ${verb}: unexpected failure: ${terminalSafe((e as Error)?.message ?? String(e))}\n`,
    );
    return EXIT.error;
  }
}

function lowerFirst(s: string): string {
  return s.length ? s[0]!.toLowerCase() + s.slice(1) : s;
}

// Run when executed as the `gatehouse` bin (not when imported by tests).
const invokedPath = process.argv[1] ? (await import('node:fs')).realpathSync(process.argv[1]) : '';
if (invokedPath && (await import('node:url')).fileURLToPath(import.meta.url) === invokedPath) {
  // `gatehouse decide ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const code = await main(process.argv.slice(2), processIo());
  process.exitCode = code;
}
