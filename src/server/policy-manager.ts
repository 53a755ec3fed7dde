/**
 * The policy lifecycle: versions stored by content revision, upload with the
 * `check` errors and warnings, atomic activation (hot reload: the compiled
 * policy is swapped in one assignment, so no request fails or sees half a
 * policy), rollback to any stored revision, and a semantic diff.
 */
import { GatehouseError } from '../core/errors.js';
import { InTurn } from '../core/in-turn.js';
import type { Clock, IdentityStore, Random } from '../core/ports.js';
import {
  checkPolicy,
  compileValidatedPolicy,
  diffPolicies,
  parsePolicy,
  type Policy,
  type PolicyDiff,
  type PolicyProblem,
  type PolicySourceText,
  type PolicyVersion,
} from '../core/policy/index.js';
import type { DecisionService } from './decision-service.js';
import type { Logger } from './logger.js';

const MAX_SOURCES = 256;

export interface ActivePolicy {
  revision: string;
  sources: PolicySourceText[];
  policy: Policy;
}

/** The active policy as told to proxies: with the store's number of its activation, once recorded. */
export interface PublishedPolicy {
  active: ActivePolicy;
  /** The activation's number (IdentityStore.markPolicyActivated): proxies keep aside an older one. */
  activation: number;
}

export interface UploadResult {
  revision: string;
  activated: boolean;
  /** The version existed already (same content). */
  existing: boolean;
  warnings: PolicyProblem[];
}

export class PolicyManager {
  private active: ActivePolicy;
  private readonly listeners: ((active: ActivePolicy) => void)[] = [];
  /**
   * The tail of the queue of activations, this server's own and those it
   * follows: one at a time, so that {@link follow} never sees an activation
   * of this server's own between its swap and its record in the store.
   */
  private readonly activations = new InTurn();
  /** Updated once an activation is recorded (the swap comes first, so that it can fail alone). */
  private told: PublishedPolicy;

  private constructor(
    private readonly store: IdentityStore,
    private readonly decisions: DecisionService,
    private readonly clock: Clock,
    private readonly ids: Random,
    private readonly logger: Logger,
    initial: ActivePolicy,
    activation: number,
  ) {
    this.active = initial;
    this.told = { active: initial, activation };
  }

  /**
   * Starts with the policy files the server was given: they are stored as a
   * version (if new) and activated, so the files on disk are the truth at start.
   */
  static async open(options: {
    store: IdentityStore;
    decisions: DecisionService;
    clock: Clock;
    ids: Random;
    logger: Logger;
    sources: PolicySourceText[];
    policy: Policy;
  }): Promise<PolicyManager> {
    const { store, policy, sources } = options;
    const now = new Date(options.clock.now()).toISOString();
    // Said aloud: on a shared store this replaces what the other servers enforce too.
    const before = (await store.latestPolicyActivation())?.revision;
    if (before !== undefined && before !== policy.revision)
      options.logger.log('warn', 'policy_replaced_at_start', { active: before, files: policy.revision });
    await store.putPolicyVersion({
      revision: policy.revision,
      sources,
      comment: 'loaded at start',
      createdAt: now,
    });
    const activation = await store.markPolicyActivated(policy.revision, now);
    return new PolicyManager(
      store,
      options.decisions,
      options.clock,
      options.ids,
      options.logger,
      { revision: policy.revision, sources, policy },
      activation,
    );
  }

  current(): ActivePolicy {
    return this.active;
  }

  /** What proxies are told: the active policy with its activation's number, once recorded. */
  published(): PublishedPolicy {
    return this.told;
  }

  /** Called after every activation (proxies' sync, metrics). */
  onActivate(listener: (active: ActivePolicy) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Validates and stores a new version; activates it unless `activate` is
   * false. Errors throw `policy_invalid` with every problem; warnings are returned.
   */
  async upload(
    sources: unknown,
    options: { comment?: string; activate?: boolean } = {},
  ): Promise<UploadResult> {
    const texts = checkSources(sources);
    const result = checkPolicy(texts, { now: this.clock.now() });
    if (result.errors.length || !result.policy) {
      const first = result.errors[0];
      throw new GatehouseError(
        'policy_invalid',
        `policy rejected: ${result.errors.length} error(s)${first ? `; first: ${first.message}` : ''}`,
        { problems: result.errors.map((p) => ({ message: formatLocated(p) })) },
      );
    }
    const revision = result.policy.revision;
    const existing = (await this.store.getPolicyVersion(revision)) !== undefined;
    await this.store.putPolicyVersion({
      revision,
      sources: texts,
      createdAt: new Date(this.clock.now()).toISOString(),
      ...(options.comment ? { comment: options.comment.slice(0, 1024) } : {}),
    });
    const activate = options.activate !== false;
    const policy = result.policy;
    if (activate) {
      await this.exclusive(async () => {
        this.swap({ revision, sources: texts, policy });
        await this.recordActivation(revision);
      });
    }
    return { revision, activated: activate, existing, warnings: result.warnings };
  }

  /** Activates a stored revision (rollback or roll forward). */
  activate(revision: string): Promise<ActivePolicy> {
    return this.exclusive(async () => {
      const version = await this.version(revision);
      const policy = parsePolicy(version.sources);
      this.swap({ revision: policy.revision, sources: version.sources, policy });
      await this.recordActivation(policy.revision);
      return this.active;
    });
  }

  list(): Promise<PolicyVersion[]> {
    return this.store.listPolicyVersions();
  }

  async version(revision: string): Promise<PolicyVersion> {
    const version = await this.store.getPolicyVersion(revision);
    if (!version) throw new GatehouseError('store_not_found', `no policy version \`${revision}\``);
    return version;
  }

  async diff(from: string, to: string): Promise<PolicyDiff> {
    const load = async (rev: string) =>
      rev === this.active.revision ? this.active.policy : parsePolicy((await this.version(rev)).sources);
    return diffPolicies(await load(from), await load(to));
  }

  private swap(next: ActivePolicy, event = 'policy_activated'): void {
    // Compile first; only a fully compiled policy replaces the running one (one assignment).
    const compiled = compileValidatedPolicy(next.policy, { clock: this.clock, ids: this.ids });
    this.decisions.swapPolicy(compiled);
    this.active = next;
    this.logger.log('info', event, { revision: next.revision });
    for (const listener of this.listeners) listener(next);
  }

  /**
   * Activates the revision that another server sharing the store activated
   * (upload, rollback), without recording it again. Resolves to that
   * revision, or undefined when the store names the running one. Fails,
   * keeping the running policy, when the stored version is missing or no
   * longer parses.
   */
  follow(): Promise<string | undefined> {
    return this.exclusive(async () => {
      const latest = await this.store.latestPolicyActivation();
      // This server's own activations are numbered too: only a later one is another server's.
      if (latest === undefined || latest.n <= this.told.activation) return undefined;
      if (latest.revision === this.active.revision) {
        this.told = { active: this.active, activation: latest.n };
        return undefined;
      }
      const version = await this.version(latest.revision);
      const policy = parsePolicy(version.sources);
      this.swap({ revision: policy.revision, sources: version.sources, policy }, 'policy_followed');
      this.told = { active: this.active, activation: latest.n };
      return latest.revision;
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.activations.run(work);
  }

  private async recordActivation(revision: string): Promise<void> {
    const now = new Date(this.clock.now()).toISOString();
    const activation = await this.store.markPolicyActivated(revision, now);
    this.told = { active: this.active, activation };
  }
}

function formatLocated(p: PolicyProblem): string {
  const at = p.location ? `${p.location.file}:${p.location.line}:${p.location.column}: ` : '';
  return `${at}${p.message}`;
}

function checkSources(value: unknown): PolicySourceText[] {
  const bad = (why: string) => new GatehouseError('policy_parse_error', `invalid policy upload: ${why}`);
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_SOURCES) {
    throw bad(`\`sources\` must be a list of 1 to ${MAX_SOURCES} {file, text} objects`);
  }
  return value.map((s, i) => {
    const o = s as { file?: unknown; text?: unknown };
    if (!o || typeof o.file !== 'string' || typeof o.text !== 'string' || o.file.length === 0) {
      throw bad(`sources[${i}] must be {file: string, text: string}`);
    }
    return { file: o.file, text: o.text };
  });
}
