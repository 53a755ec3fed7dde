/**
 * The proxy's copy of what the control plane knows: the compiled policy, the
 * trust bundle and the revocations, refreshed by polling `GET /v1/sync`.
 *
 * INVARIANT: the state only moves forward. A failed poll, an unreadable
 * bundle or a policy that does not parse leaves the last good state in place,
 * so the proxy keeps enforcing it while the server is away; a proxy that has
 * never synced has no state and denies everything. The state can be kept on
 * file (synced-state-file.ts) and restored when the proxy starts again.
 */
import { parseBundle, type SpiffeBundles } from '../core/identity/bundle.js';
import type { Revocation } from '../core/identity/credential.js';
import { RevocationSet } from '../core/identity/revocation-set.js';
import { GatehouseError } from '../core/errors.js';
import type { Clock, Random } from '../core/ports.js';
import { compileValidatedPolicy, parsePolicy, type CompiledPolicy } from '../core/policy/index.js';
import type { Logger } from '../server/logger.js';
import type { PolicyResponse, SyncResponse } from '../server/routes/sync-routes.js';
import type { ControlPlaneClient } from './control-plane-client.js';
import { SYNCED_STATE_FORMAT, type SyncedState } from './synced-state-file.js';

export interface SyncClientOptions {
  client: ControlPlaneClient;
  clock: Clock;
  /** Decision ids for the engines compiled from synced policies. */
  ids: Random;
  logger: Logger;
  /** Pause between polls; default 500 ms. */
  intervalMs?: number;
  /** Told the state after each sync that changed it, to keep it on file. */
  persist?: (state: SyncedState) => void;
}

// While the server stays away, the warning is repeated this often.
const FAILURE_REMINDER_MS = 60_000;
// Revocations past their expiry are forgotten this often (they cover nothing still valid).
const REVOCATION_PRUNE_MS = 60_000;
/**
 * A bundle of a lower sequence, or a policy of a lower activation number,
 * than the one held is taken only when every answer has said so for this
 * long. Until then it comes from a server that has not yet taken up another
 * server's rotation or activation (servers of one store follow each other
 * within about a second, and one that falls 10 s behind answers `/readyz`
 * 503): its bundle may lack the next key or still hold a removed one, its
 * policy may be the one just replaced. For this long, it is the state of a
 * store restored or started anew.
 */
export const LOWER_ANSWER_AFTER_MS = 30_000;

/** Whether answers offering a lower number than the one held are to be left aside, and since when. */
class OlderAnswers {
  private since: number | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly keptAside: string,
    private readonly reset: string,
  ) {}

  /** True when `offered` is below `held` and not yet offered by every answer for {@link LOWER_ANSWER_AFTER_MS}. */
  keepAside(offered: number | undefined, held: number | undefined, now: number): boolean {
    if (offered === undefined || held === undefined || offered >= held) {
      this.since = undefined;
      return false;
    }
    if (this.since === undefined) {
      this.since = now;
      this.logger.log('warn', this.keptAside, { held, offered });
    }
    if (now - this.since < LOWER_ANSWER_AFTER_MS) return true;
    this.logger.log('warn', this.reset, { held, offered });
    this.since = undefined;
    return false;
  }
}

export class SyncClient {
  /** Every revocation synced so far; verifiers read it on each request. */
  readonly revocations = new RevocationSet();
  private compiled: CompiledPolicy | undefined;
  private trustBundles: SpiffeBundles | undefined;
  private heldBundleSequence: number | undefined;
  private cursor: string | undefined;
  /** The server revision last fetched, even when it did not parse: fetched again only when it changes. */
  private fetchedRevision: string | undefined;
  private lastSuccess: number | undefined;
  private failingSince: number | undefined;
  private lastReminder = 0;
  private lastPrune = 0;
  /** The activation number of the policy held (servers of earlier versions send none). */
  private heldActivation: number | undefined;
  /** What the held policy, bundle and cursor were made from, as the server sent them: the state on file. */
  private heldPolicy: SyncedState['policy'] | undefined;
  private heldBundle: SyncedState['bundle'] | undefined;
  /** Set by whatever a sync changes, cleared once the state is saved. */
  private changed = false;
  /** Whether a sync of this process has left it with a policy (a restored state does not count). */
  private synced = false;
  private restored = false;
  private readonly olderBundles: OlderAnswers;
  private readonly olderPolicies: OlderAnswers;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly intervalMs: number;

  constructor(private readonly options: SyncClientOptions) {
    this.intervalMs = options.intervalMs ?? 500;
    this.olderBundles = new OlderAnswers(options.logger, 'bundle_older_kept_aside', 'bundle_sequence_reset');
    this.olderPolicies = new OlderAnswers(
      options.logger,
      'policy_older_kept_aside',
      'policy_activation_reset',
    );
  }

  /** When the last sync that left the proxy with a policy succeeded (epoch ms); undefined before. */
  get lastSyncAt(): number | undefined {
    return this.lastSuccess;
  }

  /** True while the state enforced is one restored from file, not yet synced with the server in this run. */
  get restoredOnly(): boolean {
    return this.restored && !this.synced;
  }

  /** The policy to decide with; undefined until a policy and a bundle have both been synced. */
  get policy(): CompiledPolicy | undefined {
    return this.trustBundles ? this.compiled : undefined;
  }

  /** The `spiffe_sequence` of the bundle held; undefined before the first. */
  get bundleSequence(): number | undefined {
    return this.heldBundleSequence;
  }

  /** The synced trust bundle, by trust domain; empty before the first sync. */
  get bundles(): SpiffeBundles {
    return this.trustBundles ?? {};
  }

  /** Polls until {@link stop}; the first poll starts at once. */
  start(): void {
    this.stopped = false;
    const loop = async () => {
      await this.syncOnce().catch(() => undefined);
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.intervalMs);
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * One poll: revocations and bundle first, then the policy when its revision
   * moved. Rejects when the server could not be asked; the state is then unchanged.
   */
  async syncOnce(): Promise<void> {
    const { client, logger, clock } = this.options;
    try {
      const q = new URLSearchParams();
      if (this.heldBundleSequence !== undefined) q.set('bundleSequence', String(this.heldBundleSequence));
      if (this.cursor !== undefined) q.set('revocationCursor', this.cursor);
      const sync = await client.get<SyncResponse>(`/v1/sync?${q}`);
      this.applyRevocations(sync.revocations);
      if (sync.revocationCursor !== this.cursor) this.changed = true;
      this.cursor = sync.revocationCursor;
      const now = clock.now();
      const olderBundle = this.olderBundles.keepAside(sync.bundleSequence, this.heldBundleSequence, now);
      if (sync.bundle && !olderBundle) this.applyBundle(sync.trustDomain, sync.bundleSequence, sync.bundle);
      const olderPolicy = this.olderPolicies.keepAside(sync.policyActivation, this.heldActivation, now);
      if (!olderPolicy) {
        if (sync.policyRevision !== this.fetchedRevision) {
          // The revocations and bundle just taken up are enforced while the policy is fetched
          // (up to the client's timeout): kept on file first, not only once it answers.
          this.persistChanges();
          await this.fetchPolicy(sync.policyActivation);
        }
        // The same revision activated again (or numbered anew after a reset): its number is taken.
        else if (sync.policyActivation !== undefined && sync.policyActivation !== this.heldActivation) {
          this.heldActivation = sync.policyActivation;
          // Kept with the policy on file only when it numbers that policy (not one that was rejected).
          if (this.heldPolicy?.revision === sync.policyRevision) {
            this.heldPolicy = { ...this.heldPolicy, activation: sync.policyActivation };
            this.changed = true;
          }
        }
      }
    } catch (err) {
      // What the poll took up before it failed (revocations, before a policy fetch that failed) is kept too.
      this.persistChanges();
      this.failed(err);
      throw err;
    }
    const now = clock.now();
    if (now - this.lastPrune >= REVOCATION_PRUNE_MS) {
      this.revocations.prune(now);
      this.lastPrune = now;
    }
    // Told once a process: after a state restored from file too, the first answer of the server.
    if (!this.synced && this.policy) {
      this.synced = true;
      logger.log('info', 'proxy_synced', {
        policyRevision: this.compiled!.revision,
        bundleSequence: this.heldBundleSequence,
        revocations: this.revocations.size,
      });
    }
    if (this.failingSince !== undefined) {
      logger.log('info', 'sync_restored', { downMs: now - this.failingSince });
      this.failingSince = undefined;
    }
    if (this.policy) this.lastSuccess = now;
    this.persistChanges();
  }

  /** Hands the state to be kept on file when a sync changed it and there is a whole state to keep. */
  private persistChanges(): void {
    const persist = this.options.persist;
    const state = this.changed && persist ? this.snapshot() : undefined;
    if (!state) return;
    this.changed = false;
    persist!(state);
  }

  /** The state held, as kept on file; undefined before a policy and a bundle are both held. */
  snapshot(): SyncedState | undefined {
    if (!this.policy || !this.heldPolicy || !this.heldBundle || this.lastSuccess === undefined)
      return undefined;
    return {
      format: SYNCED_STATE_FORMAT,
      server: this.options.client.server,
      syncedAt: new Date(this.lastSuccess).toISOString(),
      policy: this.heldPolicy,
      bundle: this.heldBundle,
      revocations: this.revocations.list(),
      ...(this.cursor !== undefined ? { revocationCursor: this.cursor } : {}),
    };
  }

  /**
   * Takes up a state kept on file, before the first sync: the proxy enforces
   * it until the control plane answers. All or nothing: a state whose
   * policy, bundle or any revocation does not read is not taken at all. A
   * state synced from another control plane is not taken either (told as
   * `synced_state_ignored`); returns whether the state was taken.
   * @throws GatehouseError when part of it does not read (nothing is then changed)
   */
  restore(state: SyncedState): boolean {
    const { clock, ids, logger, client } = this.options;
    if (this.compiled || this.trustBundles)
      throw new Error('a synced state is restored before the first sync');
    if (state.server !== client.server) {
      logger.log('warn', 'synced_state_ignored', {
        reason: `synced from ${state.server}, not ${client.server}`,
      });
      return false;
    }
    const policy = parsePolicy(state.policy.sources);
    if (policy.revision !== state.policy.revision)
      throw new GatehouseError(
        'policy_invalid',
        `the policy on file parses to revision ${policy.revision}, not ${state.policy.revision}`,
      );
    const compiled = compileValidatedPolicy(policy, { clock, ids });
    const bundles = { [state.bundle.trustDomain]: parseBundle(state.bundle.value, state.bundle.trustDomain) };
    const revocations = new RevocationSet(state.revocations);
    for (const r of revocations.list()) this.revocations.add(r);
    this.compiled = compiled;
    this.heldPolicy = state.policy;
    this.fetchedRevision = state.policy.revision;
    this.heldActivation = state.policy.activation;
    this.trustBundles = bundles;
    this.heldBundle = state.bundle;
    this.heldBundleSequence = state.bundle.sequence;
    this.cursor = state.revocationCursor;
    this.lastSuccess = Date.parse(state.syncedAt);
    this.restored = true;
    logger.log('info', 'synced_state_restored', {
      policyRevision: policy.revision,
      bundleSequence: state.bundle.sequence,
      revocations: this.revocations.size,
      syncedAt: state.syncedAt,
    });
    return true;
  }

  private applyRevocations(list: readonly Revocation[]): void {
    let taken = 0;
    for (const r of list) {
      try {
        if (this.revocations.add(r)) taken++;
      } catch (err) {
        this.options.logger.log('warn', 'revocation_skipped', { error: (err as Error).message });
      }
    }
    if (taken > 0) this.changed = true;
    // Told when the proxy enforces more than before (not for repeats, nor a whole list sent again),
    // so that an operator who revoked a credential sees when each proxy took it up.
    if (taken > 0 && this.lastSuccess !== undefined)
      this.options.logger.log('info', 'revocations_synced', { taken, held: this.revocations.size });
  }

  private applyBundle(trustDomain: string, sequence: number, value: unknown): void {
    try {
      // A fresh object: verifications cached against the previous bundle are dropped.
      this.trustBundles = { [trustDomain]: parseBundle(value, trustDomain) };
      this.heldBundleSequence = sequence;
      this.heldBundle = { trustDomain, sequence, value };
      this.changed = true;
      this.options.logger.log('info', 'bundle_updated', { trustDomain, bundleSequence: sequence });
    } catch (err) {
      this.options.logger.log('error', 'bundle_rejected', { error: (err as Error).message });
    }
  }

  /** Fetches the active policy, which the sync answer numbered `activation`. */
  private async fetchPolicy(activation: number | undefined): Promise<void> {
    const { client, clock, ids, logger } = this.options;
    const served = await client.get<PolicyResponse>('/v1/policy');
    // Answered by a server behind the one that answered the sync: asked again at the next poll.
    if (activation !== undefined && served.activation !== undefined && served.activation < activation) return;
    this.fetchedRevision = served.revision;
    this.heldActivation = served.activation;
    try {
      const policy = parsePolicy(served.sources);
      if (policy.revision !== served.revision) {
        logger.log('warn', 'policy_revision_mismatch', {
          served: served.revision,
          parsed: policy.revision,
        });
      }
      const previous = this.compiled?.revision;
      this.compiled = compileValidatedPolicy(policy, { clock, ids });
      this.heldPolicy = {
        revision: policy.revision,
        ...(served.activation !== undefined ? { activation: served.activation } : {}),
        sources: served.sources,
      };
      this.changed = true;
      logger.log('info', 'policy_updated', {
        policyRevision: policy.revision,
        ...(previous ? { previous } : {}),
      });
    } catch (err) {
      logger.log('error', 'policy_rejected', {
        policyRevision: served.revision,
        error: (err as Error).message,
        keeping: this.compiled?.revision ?? 'nothing',
      });
    }
  }

  private failed(err: unknown): void {
    const now = this.options.clock.now();
    const first = this.failingSince === undefined;
    if (first) this.failingSince = now;
    if (!first && now - this.lastReminder < FAILURE_REMINDER_MS) return;
    this.lastReminder = now;
    this.options.logger.log('warn', first ? 'sync_failed' : 'sync_still_failing', {
      error: (err as Error).message,
      // What the proxy goes on enforcing meanwhile.
      enforcing: this.policy ? this.policy.revision : 'nothing: every request is denied',
      ...(this.lastSuccess !== undefined ? { lastSyncedAt: new Date(this.lastSuccess).toISOString() } : {}),
    });
  }
}
