/**
 * The composition root (STYLE.md §1): typed configuration in, adapters
 * created, the core wired to them, the HTTP server out. Nothing else in the
 * code base creates a store, a clock or a server.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatehouseError } from './core/errors.js';
import { IdentityAuthority } from './core/identity/authority.js';
import { identitySettings, type IdentitySettings } from './core/identity/settings.js';
import { DecisionLogWriter } from './core/log/decision-log-writer.js';
import type { Clock, DecisionLogStore, IdentityStore } from './core/ports.js';
import { compileValidatedPolicy, parsePolicy, type Policy } from './core/policy/index.js';
import { DecisionService } from './server/decision-service.js';
import { startExtAuthzGrpcServer, type ExtAuthzGrpcServer } from './server/grpc/ext-authz-grpc-server.js';
import { PolicyManager } from './server/policy-manager.js';
import { decisionRoutes } from './server/routes/decision-routes.js';
import { exposureRoutes } from './server/routes/exposure-routes.js';
import { policyRoutes } from './server/routes/policy-routes.js';
import { rolloutRoutes } from './server/routes/rollout-routes.js';
import { metricsRoute } from './server/routes/metrics-route.js';
import { readInventoryFile } from './cli/inventory-file.js';
import { readPolicySources } from './cli/policy-files.js';
import { createHttpServer, type HttpLimits, type ServerTls } from './server/http-server.js';
import { leanPathCounters } from './server/http1-lean-path.js';
import type { Logger } from './server/logger.js';
import { DecisionLogPruner } from './server/decision-log-pruner.js';
import { StoreFollower } from './server/store-follower.js';
import { oidcJwksFetcher } from './server/oidc-jwks-fetcher.js';
import { Router } from './server/router.js';
import { identityRoutes } from './server/routes/identity-routes.js';
import { opsRoutes } from './server/routes/ops-routes.js';
import { syncRoutes } from './server/routes/sync-routes.js';
import {
  openPostgresDecisionLog,
  openPostgresIdentityStore,
  openSqliteDecisionLog,
  openSqliteIdentityStore,
} from './store/index.js';
import { decisionIds, systemClock } from './system.js';

export interface AppConfig {
  host: string;
  port: number;
  /** A SQLite file path, `:memory:`, or a `postgres://` URL. */
  db: string;
  /** Policy files or folders, merged. */
  policy: string[];
  /** Defaults to the policy's trust domain. */
  trustDomain?: string;
  identity?: Partial<Omit<IdentitySettings, 'trustDomain'>>;
  /** Working directory for relative paths. */
  cwd: string;
  /** An inventory file whose entries are registered when the store has none (a demo estate). */
  seedInventory?: string;
  /** Where to serve Envoy's gRPC ext_authz (`envoy.service.auth.v3.Authorization`); off when absent. */
  grpc?: { host: string; port: number };
  /** Request size and time limits of the HTTP server; defaults where absent. */
  httpLimits?: Partial<HttpLimits>;
  /** Serve HTTPS (and gRPC over TLS) with this certificate chain and key, PEM; plaintext when absent. */
  tls?: ServerTls;
  /** Prune decision records older than this, at start and then periodically; kept for ever when absent. */
  decisionRetentionMs?: number;
  /**
   * On a PostgreSQL store, which other servers may share: how often to take
   * up their revocations, key rotations and policy activations
   * (server/store-follower.ts). Default 1000 ms. A SQLite file has one
   * server, which never looks.
   */
  followIntervalMs?: number;
}

export interface App {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** `HOST:PORT` of the gRPC ext_authz listener, when `grpc` was configured. */
  grpcAddress?: string;
  authority: IdentityAuthority;
  /** The policy active at start; `policies.current()` is the live one. */
  policy: Policy;
  policies: PolicyManager;
  /** The admin secret when this start created it (first start only): show it once. */
  createdAdminSecret?: string;
  close(): Promise<void>;
}

const REVOCATION_PRUNE_INTERVAL_MS = 60_000;

export interface AppDeps {
  logger: Logger;
  clock?: Clock;
}

function dbLocation(db: string, cwd: string): { postgres: boolean; where: string } {
  if (/^postgres(ql)?:\/\//.test(db)) return { postgres: true, where: db };
  return { postgres: false, where: db === ':memory:' ? db : new URL(db, `file://${cwd}/`).pathname };
}

export function openStore(db: string, cwd: string): Promise<IdentityStore> {
  const { postgres, where } = dbLocation(db, cwd);
  return postgres ? openPostgresIdentityStore({ connectionString: where }) : openSqliteIdentityStore(where);
}

/** The decision log lives in the same database as the identity plane. */
export function openDecisionLog(db: string, cwd: string): Promise<DecisionLogStore> {
  const { postgres, where } = dbLocation(db, cwd);
  return postgres ? openPostgresDecisionLog({ connectionString: where }) : openSqliteDecisionLog(where);
}

export async function createApp(config: AppConfig, deps: AppDeps): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const policySources = readPolicySources(config.policy, config.cwd);
  const policy = parsePolicy(policySources);
  const settings = identitySettings({
    ...config.identity,
    trustDomain: config.trustDomain ?? policy.trustDomain,
  });
  const store = await openStore(config.db, config.cwd);
  const log = await openDecisionLog(config.db, config.cwd);
  let closing = false;
  let server: Server | undefined;
  let grpc: ExtAuthzGrpcServer | undefined;
  try {
    const authority = await IdentityAuthority.open({ store, clock, settings, oidcKeys: oidcJwksFetcher() });
    const createdAdminSecret = await authority.ensureAdminCredential();
    const seeded = config.seedInventory ? await seedEntries(authority, config.seedInventory, config.cwd) : 0;
    if (seeded) deps.logger.log('info', 'inventory_seeded', { entries: seeded, from: config.seedInventory });

    const router = new Router();
    let follower: StoreFollower | undefined;
    opsRoutes(router, {
      shutdown: () => (closing ? 'shutting down' : undefined),
      store: async () => {
        await store.getMeta('bundle_sequence');
        return undefined;
      },
      keys: () =>
        authority.signingKeys().some((k) => k.state === 'active') ? undefined : 'no active signing key',
      // Every decision is logged before it is answered: without a log, every answer is a failure.
      decisionLog: () => log.problem?.(),
      storeFollow: () => follower?.problem(),
    });
    identityRoutes(router, authority);
    // Records arriving while a commit is in flight share the next one (group commit).
    const writer = await DecisionLogWriter.open(log, { defer: (run) => setImmediate(run) });
    const decisions = new DecisionService(
      compileValidatedPolicy(policy, { clock, ids: decisionIds() }),
      authority,
      writer,
      clock,
      decisionIds(),
    );
    const pruner = new DecisionLogPruner(log, clock, deps.logger);
    decisionRoutes(router, authority, decisions, log, pruner);
    const policies = await PolicyManager.open({
      store,
      decisions,
      clock,
      ids: decisionIds(),
      logger: deps.logger,
      sources: policySources,
      policy,
    });
    policyRoutes(router, authority, policies);
    rolloutRoutes(router, { authority, log, policies, clock });
    exposureRoutes(router, { authority, log, policies, clock });
    syncRoutes(router, { authority, writer, clock, published: () => policies.published() });
    const leanCounters = leanPathCounters();
    if (dbLocation(config.db, config.cwd).postgres)
      follower = new StoreFollower(authority, policies, deps.logger, clock);
    let revocationsPruned = 0;
    metricsRoute(
      router,
      decisions,
      writer,
      leanCounters,
      pruner,
      () => ({ held: authority.revocationsHeld, pruned: revocationsPruned }),
      follower,
    );

    deps.logger.log('debug', 'routes_registered', {
      routes: router.routes().map((r) => `${r.method} ${r.pattern}`),
    });
    server = createHttpServer({
      router,
      logger: deps.logger,
      limits: config.httpLimits ?? {},
      leanCounters,
      ...(config.tls ? { tls: config.tls } : {}),
    });
    await listen(server, config.host, config.port);
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
    if (config.grpc)
      grpc = await startExtAuthzGrpcServer(
        decisions,
        config.grpc.host,
        config.grpc.port,
        deps.logger,
        config.tls,
      );

    // Keys rotate on their own schedule; a failure is logged and retried, never fatal.
    const rotation = setInterval(
      () => {
        authority
          .rotateKeys()
          .catch((err: unknown) => deps.logger.log('error', 'key_rotation_failed', { error: String(err) }));
      },
      Math.min(60_000, settings.keyPrepublishSeconds * 250),
    );
    rotation.unref();
    // Revocations past their expiry cover nothing still valid: each server forgets them, in the
    // store and in memory, once a minute (servers sharing a store may all do it: it is idempotent).
    const revocationPrune = setInterval(() => {
      authority
        .pruneRevocations()
        .then((pruned) => {
          revocationsPruned += pruned;
          if (pruned > 0) deps.logger.log('info', 'revocations_pruned', { pruned });
        })
        .catch((err: unknown) => {
          if (!closing) deps.logger.log('error', 'revocation_prune_failed', { error: String(err) });
        });
    }, REVOCATION_PRUNE_INTERVAL_MS);
    revocationPrune.unref();
    if (config.decisionRetentionMs !== undefined) pruner.retain(config.decisionRetentionMs);
    follower?.start(config.followIntervalMs ?? 1000);

    const s = server;
    const g = grpc;
    const app: App = {
      url,
      authority,
      policy,
      policies,
      async close() {
        if (closing) return;
        closing = true;
        clearInterval(rotation);
        clearInterval(revocationPrune);
        await pruner.stop();
        await follower?.stop();
        await Promise.all([
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
          }),
          g?.close(),
        ]);
        // Graceful shutdown: every decision already answered is on disk before the store closes.
        await writer.close();
        await log.close();
        await store.close();
      },
    };
    if (createdAdminSecret) app.createdAdminSecret = createdAdminSecret;
    if (grpc) app.grpcAddress = grpc.address;
    deps.logger.log('info', 'server_started', {
      url,
      ...(grpc ? { grpc: grpc.address } : {}),
      trustDomain: settings.trustDomain,
      policyRevision: policy.revision,
    });
    return app;
  } catch (err) {
    server?.close();
    await grpc?.close();
    await log.close();
    await store.close();
    throw err;
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Registers the entries of an inventory file when the store holds none yet,
 * keeping what a caller may set (ids, timestamps and history are the
 * server's own). Entries of other trust domains are skipped.
 */
async function seedEntries(authority: IdentityAuthority, file: string, cwd: string): Promise<number> {
  if ((await authority.listEntries({ limit: 1 })).length > 0) return 0;
  const inventory = readInventoryFile(file, cwd);
  let n = 0;
  for (const entry of inventory.entries) {
    if (!entry.spiffeId.startsWith(`spiffe://${authority.settings.trustDomain}/`)) continue;
    const { id: _id, createdAt: _c, updatedAt: _u, lastSeenAt: _l, ...input } = entry;
    try {
      await authority.createEntry(input);
      n++;
    } catch (error) {
      // The inventory holds each SPIFFE ID once (loadInventory), so a conflict is another server
      // sharing the store seeding the same file at the same moment: its entry stands.
      if (error instanceof GatehouseError && error.code === 'store_conflict') continue;
      throw error;
    }
  }
  return n;
}
