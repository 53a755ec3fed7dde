/**
 * Runs the real `gatehouse serve` process (the built bin) on a random
 * loopback port with a real SQLite file, for integration tests.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, runCli, type CliResult } from './cli-run.js';

export { root };
export const bin = join(root, 'dist/cli/main.js');
export const built = existsSync(bin);

export interface ServerProcess {
  url: string;
  adminToken: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  child: ChildProcess;
}

/** A running `gatehouse` process with its output so far. */
export interface GatehouseProcess {
  /** What `ready` found in the output. */
  found: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  child: ChildProcess;
}

/**
 * Starts the built `gatehouse` with `args` and waits (at most 20 s) until
 * `ready` finds what it looks for in the output so far; fails when the
 * process exits first.
 */
export function spawnGatehouse(
  what: string,
  args: string[],
  env: Record<string, string | undefined>,
  ready: (stdout: string, stderr: string) => string | undefined,
  cwd = root,
): Promise<GatehouseProcess> {
  return spawnNode(what, [bin, ...args], env, ready, cwd);
}

/** As {@link spawnGatehouse}, for any Node.js script: `argv` is the script and its arguments. */
export async function spawnNode(
  what: string,
  argv: string[],
  env: Record<string, string | undefined>,
  ready: (stdout: string, stderr: string) => string | undefined,
  cwd = root,
): Promise<GatehouseProcess> {
  const child = spawn(process.execPath, argv, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const found = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}\n${err}`)), 20_000);
    const poll = setInterval(() => {
      const hit = ready(out, err);
      if (hit !== undefined) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(hit);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${out}\n${err}`));
    });
  }).catch((e: unknown) => {
    // Not left running when it never became ready.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw e;
  });
  return {
    found,
    child,
    stdout: () => out,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** Runs the built `gatehouse` to its end as a real process, as a shell would; fails after 60 s. */
export function runGatehouse(
  args: string[],
  env: Record<string, string | undefined>,
  cwd = root,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, out, err) => {
        const code = error ? error.code : 0;
        if (typeof code !== 'number')
          return reject(new Error(`gatehouse ${args.join(' ')}: ${error!.message}`));
        resolve({ code, out, err });
      },
    );
  });
}

/** The API's base URL in `gatehouse serve`'s banner, once printed. */
export const bannerUrl = (out: string): string | undefined => /API\s+(https?:\/\/\S+)\/v1/.exec(out)?.[1];

export async function startServer(
  dir: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const args = ['serve', '--listen', '127.0.0.1:0', '--db', join(dir, 'gatehouse.db')];
  args.push('--admin-token-file', join(dir, 'admin.token'), ...extraArgs);
  const p = await spawnGatehouse('server', args, env, bannerUrl);
  const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  return { url: p.found, adminToken, child: p.child, stdout: p.stdout, stderr: p.stderr, stop: p.stop };
}

export type { CliResult } from './cli-run.js';

/** Runs the CLI in-process against a server, with the given environment. */
export function cli(args: string[], env: Record<string, string | undefined>, cwd = root): Promise<CliResult> {
  return runCli(args, { env, cwd });
}
