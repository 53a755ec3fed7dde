/**
 * The SQLite decision log's appends on a thread of their own
 * (decision-log-append-worker.ts), so that the event loop goes on serving
 * requests while a batch is inserted, committed and synced to disk. The
 * thread has its own connection; the log's reads stay on the caller's.
 *
 * Why: under load the server's one thread was saturated, and the log's
 * transaction with its disk sync held it for about an eighth of its time
 * (a milliseconds-long stall per batch, longer when another process holds
 * the write lock). In alternating runs of `gatehouse serve` against the
 * build before (docs/performance.md) throughput rose 7 % as geometric mean
 * over 36 pairs and the p99 stayed at 11–18 ms instead of 12–91 ms.
 */
import { Worker } from 'node:worker_threads';
import { GatehouseError } from '../../core/errors.js';
import type { AppendPlan, PruneStep, PruneStepResult } from '../sql/sql-decision-log.js';
import type { AppendAnswer, AppendJob, PruneJob } from './decision-log-append-worker.js';

export interface AppendThread {
  /** Runs the plan on the thread; resolves once its rows are durable, or rejects as the append would. */
  append(plan: AppendPlan): Promise<void>;
  /** Runs one prune step on the thread, in turn with the appends. */
  prune(step: PruneStep): Promise<PruneStepResult>;
  /** Why the thread takes no appends (it has stopped or failed); undefined while it runs. */
  problem(): string | undefined;
  /** Stops the thread once it is idle; appends afterwards fail with `store_error`. */
  close(): Promise<void>;
}

/**
 * Starts the thread on `file` (already migrated) and resolves once its
 * connection is open. Fails with `store_error` when it cannot be started or
 * cannot open the file. If the thread fails later, every append waiting and
 * every later one fails with `store_error` (the caller fails closed).
 */
export async function startAppendThread(file: string, busyTimeoutMs: number): Promise<AppendThread> {
  const [entry, how] = workerEntry();
  const worker = new Worker(entry, { ...how, workerData: { file, busyTimeoutMs } });
  // `plan` is absent for a prune step.
  const waiting = new Map<
    number,
    { plan?: AppendPlan; resolve: (value: PruneStepResult | undefined) => void; reject: (e: unknown) => void }
  >();
  let nextId = 0;
  let broken: GatehouseError | undefined;
  const breakWith = (error: GatehouseError) => {
    broken ??= error;
    for (const w of waiting.values()) w.reject(broken);
    waiting.clear();
  };

  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) =>
      reject(
        new GatehouseError(
          'store_error',
          `cannot start the decision log's writing thread: ${error.message}`,
          {
            cause: error,
          },
        ),
      );
    const stopped = () => failed(new Error('it stopped while opening the database'));
    worker.once('error', failed);
    worker.once('exit', stopped);
    worker.once('message', () => {
      worker.off('error', failed);
      worker.off('exit', stopped);
      resolve();
    });
  });
  // An idle thread does not keep the process alive; one with appends under way does.
  worker.unref();

  worker.on('message', (answer: AppendAnswer) => {
    const w = waiting.get(answer.id);
    if (!w) return;
    waiting.delete(answer.id);
    if (waiting.size === 0) worker.unref();
    if ('ok' in answer) w.resolve(undefined);
    else if ('pruned' in answer) w.resolve(answer.pruned);
    else if ('tail' in answer) w.reject(conflict(w.plan!, answer.tail ?? undefined));
    else if ('logged' in answer) w.reject(w.plan!.alreadyLogged(answer.logged));
    else
      w.reject(
        Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {}),
      );
  });
  worker.on('error', (error) =>
    breakWith(
      new GatehouseError('store_error', `the decision log's writing thread failed: ${error.message}`, {
        cause: error,
      }),
    ),
  );
  worker.on('exit', () =>
    breakWith(new GatehouseError('store_error', "the decision log's writing thread has stopped")),
  );

  /** Posts a job and waits for its answer; the thread is kept alive meanwhile. */
  const post = (job: AppendJob | PruneJob, plan?: AppendPlan) =>
    new Promise<PruneStepResult | undefined>((resolve, reject) => {
      if (waiting.size === 0) worker.ref();
      waiting.set(job.id, { ...(plan ? { plan } : {}), resolve, reject });
      worker.postMessage(job);
    });

  return {
    async append(plan) {
      if (broken) throw broken;
      await post({ id: ++nextId, expect: plan.expect, rows: plan.rows, onlyNew: plan.onlyNew }, plan);
    },
    async prune(step) {
      if (broken) throw broken;
      return (await post({ id: ++nextId, prune: step }))!;
    },
    problem: () => broken?.message,
    async close() {
      if (broken) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}

/** The error the plan's own check gives for the tail the thread found. */
function conflict(plan: AppendPlan, tail: Parameters<AppendPlan['check']>[0]): unknown {
  try {
    plan.check(tail);
  } catch (error) {
    return error;
  }
  // INVARIANT: the thread refuses only a tail that the check refuses too.
  return new GatehouseError('store_conflict', 'the stored log does not end where the append expects');
}

/**
 * How the thread starts: from the built file; run from the sources (the
 * tests, under tsx), from the source file through tsx's loader, which a
 * thread does not inherit.
 */
function workerEntry(): [string | URL, { eval?: boolean }] {
  if (!import.meta.url.endsWith('.ts'))
    return [new URL('./decision-log-append-worker.js', import.meta.url), {}];
  const source = JSON.stringify(new URL('./decision-log-append-worker.ts', import.meta.url).href);
  return [`import('tsx/esm/api').then(({ tsImport }) => tsImport(${source}, ${source}))`, { eval: true }];
}
