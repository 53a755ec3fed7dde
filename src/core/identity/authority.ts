/**
 * The identity authority of one trust domain: it keeps the registration
 * entries, holds the signing keys, attests workloads, issues short-lived
 * SVIDs and JIT grants, and takes any of them back. It does no I/O itself:
 * the store, the clock and the OIDC key sets arrive through ports.
 *
 * INVARIANT: every revocation is applied to the in-memory revocation set
 * before the call that made it returns, so every verifier in the process sees
 * it at once; the store is written first, so nothing acknowledged is lost.
 */
import { GatehouseError } from '../errors.js';
import { InTurn } from '../in-turn.js';
import type { Clock, IdentityStore } from '../ports.js';
import { compilePathGlob } from '../policy/glob.js';
import type { JoinToken, OidcIssuer } from './attestation-records.js';
import { buildBundle, type SpiffeBundle } from './bundle.js';
import { readSerial } from './certificates.js';
import { controlPlaneAudience, mixedControlPlaneAudience } from './control-plane-audience.js';
import type { IssuedCredential, Revocation, RevocationTarget } from './credential.js';
import type { EntryStatus, RegistrationEntry } from './entry.js';
import { checkEntryInput, type EntryInput } from './entry-input.js';
import type { Grant, GrantScope } from './grant.js';
import { issueJwtSvid, JwtSvidVerifier, type JwtSvidClaims } from './jwt-svid.js';
import { planKeyRotation } from './key-rotation.js';
import { matchClaimConditions, verifyOidcToken } from './oidc-token.js';
import { readRevocationChanges, type RevocationCursor, type RevocationsRead } from './revocation-cursor.js';
import { REVOCATION_EXPIRY_MARGIN_MS, RevocationSet, revocationOutlived } from './revocation-set.js';
import { hashSecret, newId, newSecret } from './secrets.js';
import type { IdentitySettings } from './settings.js';
import type { KeyUse, StoredSigningKey } from './signing-key.js';
import { generateSigningKey, loadPrivateKey } from './signing-keys.js';
import { parseSpiffeId } from './spiffe-id.js';
import { createTrustDomainCa } from './trust-domain-ca.js';
import { checkCsr, issueX509Svid, verifyX509Svid } from './x509-svid.js';

/** How many X.509-SVID chains given as PEM are remembered as verified (about 2 KB each). */
export const VERIFIED_PEMS_KEPT = 4096;

/** The private claim of a grant credential: what task it serves and its scope. */
export const GRANT_CLAIM = 'gatehouse_grant';

export interface JwtSvidIssued {
  token: string;
  spiffeId: string;
  audience: string[];
  jti: string;
  expiresAt: string;
}

export interface X509SvidIssued {
  spiffeId: string;
  serial: string;
  certificatePem: string;
  /** Leaf then CA, PEM. */
  chainPem: string;
  /** Present when the authority generated the key pair (no CSR given). */
  privateKeyPem?: string;
  expiresAt: string;
}

export interface AttestResult {
  spiffeId: string;
  entryId: string;
  via: string;
  x509Svid?: X509SvidIssued;
  /**
   * The workload's JWT-SVID for the control plane, whose audience is that
   * alone: what renews, asks for more SVIDs and syncs. Always returned.
   * Services refuse it.
   */
  jwtSvid?: JwtSvidIssued;
  /** A JWT-SVID for exactly the audiences asked for, when any: what the workload presents to services. */
  audienceJwtSvid?: JwtSvidIssued;
}

export interface AttestOptions {
  /** PKCS#10 CSR for the X.509-SVID; without it a key pair is generated. */
  csrPem?: string;
  /**
   * Audiences of a second JWT-SVID, `audienceJwtSvid`, for services. The
   * control-plane audience beside others is refused (`request_invalid`).
   */
  audience?: string[];
  /** Skip the X.509-SVID (the control-plane JWT-SVID is always returned). */
  x509?: boolean;
}

export interface VerifiedJwtSvid {
  spiffeId: string;
  claims: JwtSvidClaims;
  entryId?: string;
  grant?: { id: string; scope: GrantScope };
}

/** An X.509-SVID chain as verified against one bundle: what revocation is asked about. */
interface VerifiedChain {
  bundle: SpiffeBundle;
  spiffeId: string;
  serial: string;
  /** Epoch milliseconds. */
  notAfter: number;
  revocable: Parameters<RevocationSet['isRevoked']>[0];
}

export interface OidcKeySource {
  /** The JWK Set of an issuer registered by URL; the edge fetches and caches it. */
  jwksFor(issuer: OidcIssuer): Promise<{ keys: readonly Record<string, unknown>[] }>;
}

export interface AuthorityOptions {
  store: IdentityStore;
  clock: Clock;
  settings: IdentitySettings;
  oidcKeys?: OidcKeySource;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What a set of keys publishes and signs with: each key's id, use and state. */
const published = (keys: readonly StoredSigningKey[]) =>
  keys
    .map((k) => `${k.kid} ${k.use} ${k.state}`)
    .sort()
    .join('\n');

export class IdentityAuthority {
  readonly settings: IdentitySettings;
  /** The audience a workload uses to call the control plane with its JWT-SVID. */
  readonly controlPlaneAudience: string;
  private readonly store: IdentityStore;
  private readonly clock: Clock;
  private readonly oidcKeys: OidcKeySource | undefined;
  private readonly revocations = new RevocationSet([]);
  /** The store's last revocation change this server has taken up. */
  private revocationsThrough: RevocationCursor = { change: 0 };
  private keys: StoredSigningKey[] = [];
  private bundleCache: SpiffeBundle | undefined;
  private sequence = 0;
  private verifier: JwtSvidVerifier;
  /** The tail of the queue of key changes; see {@link exclusive}. */
  private readonly keyChanges = new InTurn();

  private constructor(options: AuthorityOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.settings = options.settings;
    this.oidcKeys = options.oidcKeys;
    this.controlPlaneAudience = controlPlaneAudience(options.settings.trustDomain);
    this.verifier = this.newVerifier();
  }

  /**
   * Opens the authority on a store: checks that the stored keys open with the
   * configured passphrase, loads revocations and makes sure signing keys exist.
   * @throws GatehouseError `key_passphrase_required` / `key_passphrase_wrong`
   *   when sealed keys do not open, before anything is created or issued
   */
  static async open(options: AuthorityOptions): Promise<IdentityAuthority> {
    // Fail closed at once: otherwise an authority without the right passphrase would start,
    // refuse every signing, and on its first rotation store new keys sealed under the wrong
    // passphrase (or in the clear) and go on to sign with them. Opened keys are cached, so
    // the first signing pays nothing more. Retired keys never sign again and are skipped.
    for (const key of await options.store.listSigningKeys()) {
      if (key.state !== 'retired') loadPrivateKey(key, options.settings.keyPassphrase);
    }
    const authority = new IdentityAuthority(options);
    await authority.takeUpRevocations();
    authority.sequence = Number((await options.store.getMeta('bundle_sequence')) ?? '0');
    await authority.rotateKeys();
    return authority;
  }

  private now(): number {
    return this.clock.now();
  }

  private newVerifier(): JwtSvidVerifier {
    return new JwtSvidVerifier({
      bundles: () => ({ [this.settings.trustDomain]: this.bundle() }),
      clockSkewSeconds: this.settings.clockSkewSeconds,
      clock: this.clock,
      isRevoked: (claims) => this.isJwtRevoked(claims),
    });
  }

  // ---- keys and bundle -----------------------------------------------------

  /**
   * Runs the rotation plan for both key uses: creates a next key when none
   * is pending, activates it once it has been published long enough, retires
   * the old one and deletes retired keys whose credentials have all expired.
   * Returns true when anything changed (the bundle sequence then moves).
   */
  rotateKeys(options: { force?: boolean } = {}): Promise<boolean> {
    // The store's lock too: servers sharing it rotate in turn, each from the keys the one before left.
    return this.exclusive(() => this.store.withLock('key-rotation', () => this.rotateKeysNow(options)));
  }

  /**
   * Runs `work` after every key change queued before it. Rotation and the
   * reservations signers make ({@link reserveKey}) read and write the stored
   * keys; interleaved, a rotation would retire or delete a key from a stale
   * copy while a signer used it, and the signer would then write the key back
   * as it knew it (active again, or undeleted but missing from the bundle).
   */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.keyChanges.run(work);
  }

  private async rotateKeysNow(options: { force?: boolean }): Promise<boolean> {
    const now = this.now();
    let keys = await this.store.listSigningKeys();
    let changed = false;
    // A forced rotation holds for a use until it has activated a new key: with no next key
    // waiting, the first pass only creates one and the second must still be forced to activate
    // it (forcing the first pass alone left the old key signing). Forcing after the activation
    // would rotate twice.
    const forcing = new Set<KeyUse>(options.force === true ? ['jwt-svid', 'x509-svid'] : []);
    // A plan may need a second pass (a key created now can be activated at once when none is
    // active); three passes always reach a fixed point.
    for (let pass = 0; pass < 3; pass++)
      for (const use of ['jwt-svid', 'x509-svid'] as KeyUse[]) {
        const actions = planKeyRotation(
          keys.filter((k) => k.use === use),
          {
            now,
            use,
            alg: this.settings.keyAlgorithm,
            activeLifetimeSeconds: this.settings.keyActiveLifetimeSeconds,
            prepublishSeconds: this.settings.keyPrepublishSeconds,
            force: forcing.has(use),
          },
        );
        for (const action of actions) {
          changed = true;
          if (action.type === 'activate') forcing.delete(use);
          if (action.type === 'create-next') {
            const key = await this.newKey(use, now);
            await this.store.putSigningKey(key);
            keys.push(key);
          } else if (action.type === 'activate' || action.type === 'retire') {
            const key = keys.find((k) => k.kid === action.kid)!;
            const next: StoredSigningKey =
              action.type === 'activate'
                ? { ...key, state: 'active', activatedAt: iso(now) }
                : { ...key, state: 'retired', retiredAt: iso(now) };
            await this.store.putSigningKey(next);
            keys = keys.map((k) => (k.kid === next.kid ? next : k));
          } else if (action.type === 'delete') {
            await this.store.deleteSigningKey(action.kid);
            keys = keys.filter((k) => k.kid !== action.kid);
          }
        }
      }
    // The stored keys may also be another server's rotation, not yet taken up here.
    const moved = published(keys) !== published(this.keys);
    this.keys = keys;
    if (changed || moved || this.sequence === 0) {
      const stored = Number((await this.store.getMeta('bundle_sequence')) ?? '0');
      this.sequence = Math.max(this.sequence, stored);
      if (changed || this.sequence === 0) {
        this.sequence += 1;
        await this.store.setMeta('bundle_sequence', String(this.sequence));
      }
      this.bundleCache = undefined;
      this.verifier = this.newVerifier();
    }
    return changed;
  }

  private async newKey(use: KeyUse, now: number): Promise<StoredSigningKey> {
    const key = await generateSigningKey({
      use,
      alg: this.settings.keyAlgorithm,
      now,
      passphrase: this.settings.keyPassphrase,
    });
    if (use !== 'x509-svid') return key;
    const certificatePem = await createTrustDomainCa({
      trustDomain: this.settings.trustDomain,
      key,
      passphrase: this.settings.keyPassphrase,
      now,
    });
    return { ...key, certificatePem };
  }

  /** The trust bundle (SPIFFE bundle format), rebuilt only when the keys change. */
  bundle(): SpiffeBundle {
    this.bundleCache ??= buildBundle(this.keys, {
      sequence: this.sequence,
      refreshHintSeconds: this.settings.bundleRefreshHintSeconds,
    });
    return this.bundleCache;
  }

  signingKeys(): readonly StoredSigningKey[] {
    return this.keys;
  }

  private activeKey(use: KeyUse): StoredSigningKey {
    const key = this.keys.find((k) => k.use === use && k.state === 'active');
    if (!key) throw new GatehouseError('key_invalid', `no active ${use} signing key`);
    return key;
  }

  /**
   * The active key of `use`, already recorded as signing something valid
   * until `until`: the record is written before the key signs, so a rotation
   * that runs meanwhile keeps the key published (retired, never deleted)
   * until then.
   */
  private reserveKey(use: KeyUse, until: number): Promise<StoredSigningKey> {
    return this.exclusive(async () => {
      const signedUntil = iso(until);
      // Twice at most: another server sharing the store may have rotated the key away meanwhile.
      for (let pass = 0; ; pass++) {
        const key = this.activeKey(use);
        if (key.signedUntil !== undefined && key.signedUntil >= signedUntil) return key;
        // Only the reservation is written, never this server's copy of the key: that could
        // bring back a key another server has retired or deleted since.
        const stored = await this.store.reserveSigningKey(key.kid, signedUntil);
        if (stored?.state === 'active') {
          this.keys = this.keys.map((k) => (k.kid === key.kid ? stored : k));
          return key;
        }
        if (pass === 1)
          throw new GatehouseError('key_invalid', `no active ${use} signing key: keys are being rotated`);
        await this.adoptStoredKeys();
      }
    });
  }

  // ---- entries ---------------------------------------------------------------

  async createEntry(value: unknown): Promise<RegistrationEntry> {
    const input = this.checkInput(value);
    const id = parseSpiffeId(input.spiffeId);
    if (id.trustDomain !== this.settings.trustDomain) {
      throw new GatehouseError(
        'entry_invalid',
        `invalid entry: spiffeId: \`${input.spiffeId}\` is not in trust domain \`${this.settings.trustDomain}\``,
      );
    }
    const now = iso(this.now());
    const { status, ...rest } = input;
    const entry: RegistrationEntry = {
      ...rest,
      id: newId('ent'),
      status: status ?? 'active',
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.store.createEntry(entry);
    } catch (err) {
      // Name the entry that holds the SPIFFE ID, not the id this one would have had.
      const holder =
        err instanceof GatehouseError && err.code === 'store_conflict'
          ? await this.store.getEntryBySpiffeId(entry.spiffeId).catch(() => undefined)
          : undefined;
      if (!holder) throw err;
      throw new GatehouseError(
        'store_conflict',
        `cannot create entry: \`${entry.spiffeId}\` is already registered as entry \`${holder.id}\` (${holder.status})`,
      );
    }
    return entry;
  }

  /** Replaces the caller-settable fields given in `patch`; the SPIFFE ID never changes. */
  async updateEntry(id: string, patch: unknown): Promise<RegistrationEntry> {
    const entry = await this.requireEntry(id);
    const { problems } = checkEntryInput(patch, '', { partial: true });
    if (problems.length) throw entryInvalid(problems);
    const p = patch as Partial<EntryInput>;
    if (p.spiffeId !== undefined && p.spiffeId !== entry.spiffeId) {
      throw new GatehouseError('entry_invalid', 'invalid entry: spiffeId: cannot change; create a new entry');
    }
    if (entry.status === 'offboarded') {
      throw new GatehouseError('entry_inactive', `entry \`${id}\` is offboarded and cannot change`);
    }
    const updated: RegistrationEntry = { ...entry, ...(p as object), updatedAt: iso(this.now()) };
    if (p.status !== undefined && p.status !== entry.status)
      return this.setEntryStatus(id, p.status, updated);
    await this.store.updateEntry(updated);
    return updated;
  }

  /**
   * Disables, re-enables or offboards an entry. Disabling and offboarding
   * revoke every credential issued for the entry so far.
   */
  async setEntryStatus(
    id: string,
    status: EntryStatus,
    base?: RegistrationEntry,
  ): Promise<RegistrationEntry> {
    const entry = base ?? (await this.requireEntry(id));
    const current = (await this.requireEntry(id)).status;
    if (current === 'offboarded' && status !== 'offboarded') {
      throw new GatehouseError('entry_inactive', `entry \`${id}\` is offboarded and cannot be re-enabled`);
    }
    const updated: RegistrationEntry = { ...entry, status, updatedAt: iso(this.now()) };
    await this.store.updateEntry(updated);
    if (status !== 'active') await this.revoke({ target: 'entry', value: id, reason: `entry ${status}` });
    return updated;
  }

  getEntry(id: string): Promise<RegistrationEntry | undefined> {
    return this.store.getEntry(id);
  }

  listEntries(filter?: Parameters<IdentityStore['listEntries']>[0]): Promise<RegistrationEntry[]> {
    return this.store.listEntries(filter);
  }

  private checkInput(value: unknown): EntryInput {
    const { input, problems } = checkEntryInput(value);
    if (!input) throw entryInvalid(problems);
    return input;
  }

  private async requireEntry(id: string): Promise<RegistrationEntry> {
    const entry = (await this.store.getEntry(id)) ?? (await this.store.getEntryBySpiffeId(id));
    if (!entry) throw new GatehouseError('store_not_found', `no entry \`${id}\``);
    return entry;
  }

  /** The entry for `idOrSpiffeId`, which must be active and unexpired. */
  private async activeEntry(idOrSpiffeId: string): Promise<RegistrationEntry> {
    const entry = await this.requireEntry(idOrSpiffeId);
    if (entry.status !== 'active') {
      throw new GatehouseError('entry_inactive', `entry \`${entry.id}\` is ${entry.status}`);
    }
    if (entry.expiresAt !== undefined && Date.parse(entry.expiresAt) <= this.now()) {
      throw new GatehouseError('entry_inactive', `entry \`${entry.id}\` expired at ${entry.expiresAt}`);
    }
    return entry;
  }

  // ---- join tokens and attestation ---------------------------------------------

  /** Creates a single-use join token for an entry; the token is returned once and stored hashed. */
  async createJoinToken(entryId: string, ttlSeconds?: number): Promise<{ token: string; expiresAt: string }> {
    const entry = await this.activeEntry(entryId);
    if (!entry.attestation.some((a) => a.type === 'join-token')) {
      throw new GatehouseError(
        'entry_invalid',
        `entry \`${entry.id}\` does not allow join-token attestation: add {type: join-token} to its attestation`,
      );
    }
    const ttl = Math.min(
      ttlSeconds ?? this.settings.joinTokenTtlSeconds,
      this.settings.joinTokenTtlSeconds * 6,
    );
    if (!Number.isInteger(ttl) || ttl < 1)
      throw new GatehouseError('entry_invalid', 'ttlSeconds must be a positive whole number');
    const token = newSecret('gjt');
    const now = this.now();
    const record: JoinToken = {
      hash: hashSecret(token),
      entryId: entry.id,
      createdAt: iso(now),
      expiresAt: iso(now + ttl * 1000),
    };
    await this.store.createJoinToken(record);
    return { token, expiresAt: record.expiresAt };
  }

  /** Attests with a join token: single use, unexpired, bound to one active entry. */
  async attestJoinToken(token: string, options: AttestOptions = {}): Promise<AttestResult> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
      throw new GatehouseError('attestation_failed', 'attestation failed: join token is malformed');
    }
    await this.checkAttestOptions(options);
    const used = await this.store.consumeJoinToken(hashSecret(token), iso(this.now()));
    if (!used) {
      throw new GatehouseError(
        'attestation_failed',
        'attestation failed: join token is unknown, used or expired',
      );
    }
    const entry = await this.activeEntry(used.entryId);
    // The token is the entry's credential as of its creation: it stops with what stops them (the
    // entry disabled or offboarded since, even if enabled again: a revocation of the entry), and
    // when the entry no longer attests by join token.
    const covered = this.revocations.find({
      spiffeId: entry.spiffeId,
      entryId: entry.id,
      issuedAt: used.createdAt,
    });
    if (covered || !entry.attestation.some((a) => a.type === 'join-token')) {
      throw new GatehouseError(
        'attestation_failed',
        covered
          ? 'attestation failed: the join token was made before the entry was disabled'
          : 'attestation failed: the entry no longer attests by join token',
      );
    }
    return this.issueForAttestation(entry, 'join-token', options);
  }

  /**
   * Attests with a token from a trusted OIDC issuer. The token must verify
   * against the issuer's keys and match every claim condition of exactly the
   * entries that federate with that issuer; `spiffeId` picks one when several
   * match. A token that matches no condition gets nothing.
   */
  async attestOidc(
    token: string,
    options: AttestOptions & { spiffeId?: string } = {},
  ): Promise<AttestResult> {
    await this.checkAttestOptions(options);
    const issuerName = unverifiedIssuer(token);
    const issuer = (await this.store.listOidcIssuers()).find((i) => i.issuer === issuerName);
    if (!issuer)
      throw new GatehouseError('attestation_failed', 'attestation failed: token issuer is not trusted');
    const jwks = issuer.jwks ?? (await this.oidcKeySource().jwksFor(issuer));
    // The store lists only the active entries federating with this issuer, and only the one
    // named when a SPIFFE ID is: never the whole inventory.
    const candidates = await this.store.listEntries(
      options.spiffeId === undefined
        ? { status: 'active', oidcIssuer: issuer.issuer }
        : { status: 'active', oidcIssuer: issuer.issuer, spiffeId: options.spiffeId },
    );
    const failures: string[] = [];
    // The token's verification depends only on the audience asked for: entries of one issuer
    // (a CI provider's many pipelines) mostly share it, so each is verified once.
    const verified = new Map<string, Promise<Record<string, unknown>>>();
    const now = this.now();
    for (const entry of candidates) {
      for (const rule of entry.attestation) {
        if (rule.type !== 'oidc' || rule.issuer !== issuer.issuer) continue;
        let claims: Record<string, unknown>;
        try {
          let pending = verified.get(rule.audience);
          if (!pending) {
            pending = verifyOidcToken(token, { ...issuer, jwks }, { audience: rule.audience, now });
            verified.set(rule.audience, pending);
          }
          claims = await pending;
        } catch (err) {
          failures.push((err as Error).message);
          continue;
        }
        const match = matchClaimConditions(claims, rule.claims);
        if (match.matched) {
          if (entry.expiresAt !== undefined && Date.parse(entry.expiresAt) <= this.now()) continue;
          return this.issueForAttestation(entry, 'oidc', options);
        }
        // Said without what the entry wants: the caller is not yet anyone, and an entry's
        // conditions tell which pipelines and branches are trusted (the token's own values it has).
        failures.push(...match.mismatches.map((m) => m.replace(/: want .*$/s, ': not what an entry wants')));
      }
    }
    throw new GatehouseError('attestation_failed', 'attestation failed: the token matches no entry', {
      problems: failures.slice(0, 10).map((message) => ({ message })),
    });
  }

  private oidcKeySource(): OidcKeySource {
    if (!this.oidcKeys)
      throw new GatehouseError('attestation_failed', 'attestation failed: issuer keys are unavailable');
    return this.oidcKeys;
  }

  /**
   * Refuses attestation options that would be refused at issuance, before a
   * single-use join token is spent or any SVID is minted (and recorded) for
   * a request that then fails.
   * @throws GatehouseError `request_invalid` for an audience that mixes the
   *   control plane with other audiences; `csr_invalid`
   */
  async checkAttestOptions(options: AttestOptions): Promise<void> {
    if (options.audience !== undefined) this.refuseMixedAudience(options.audience);
    if (options.csrPem !== undefined && options.x509 !== false) await checkCsr(options.csrPem);
  }

  /**
   * The SVIDs attestation and renewal answer: a JWT-SVID for the control
   * plane alone, a second one for the audiences asked (unless they are the
   * control plane's alone, already answered), and the X.509-SVID. Callers
   * have passed `options` through {@link checkAttestOptions} first, before
   * spending anything on the request.
   */
  private async issueForAttestation(
    entry: RegistrationEntry,
    via: string,
    options: AttestOptions,
  ): Promise<AttestResult> {
    const asked = [...new Set(options.audience ?? [])];
    await this.store.touchEntry(entry.id, iso(this.now()));
    const result: AttestResult = { spiffeId: entry.spiffeId, entryId: entry.id, via };
    result.jwtSvid = await this.mintJwt(entry, [this.controlPlaneAudience], undefined, via);
    if (asked.length > 0 && !(asked.length === 1 && asked[0] === this.controlPlaneAudience))
      result.audienceJwtSvid = await this.mintJwt(entry, asked, undefined, via);
    if (options.x509 !== false) result.x509Svid = await this.mintX509(entry, options.csrPem, undefined, via);
    return result;
  }

  /** See control-plane-audience.ts: the control plane's audience goes alone. */
  private refuseMixedAudience(audience: readonly unknown[]): void {
    const controlPlane = mixedControlPlaneAudience(audience, this.settings.trustDomain);
    if (controlPlane === undefined) return;
    throw new GatehouseError(
      'request_invalid',
      `audience mixes the control plane \`${controlPlane}\` with other audiences: a service given such a JWT-SVID could call the control plane as the workload; ask for the control plane in a JWT-SVID of its own`,
    );
  }

  // ---- issuing ---------------------------------------------------------------

  /** Issues a JWT-SVID for an active entry (admin or the workload itself, checked by the caller). */
  async issueJwtSvid(
    idOrSpiffeId: string,
    audience: string[],
    options: { ttlSeconds?: number; via?: string } = {},
  ): Promise<JwtSvidIssued> {
    const entry = await this.activeEntry(idOrSpiffeId);
    return this.mintJwt(entry, audience, options.ttlSeconds, options.via ?? 'admin');
  }

  async issueX509Svid(
    idOrSpiffeId: string,
    options: { csrPem?: string; ttlSeconds?: number; via?: string } = {},
  ): Promise<X509SvidIssued> {
    const entry = await this.activeEntry(idOrSpiffeId);
    return this.mintX509(entry, options.csrPem, options.ttlSeconds, options.via ?? 'admin');
  }

  /**
   * An SVID's lifetime: the one asked for, else the entry's, else the
   * server's default; never longer than the entry's (an operator who
   * shortened an entry's SVIDs means it for the workload's own requests
   * too) nor the server's maximum.
   */
  private ttl(requested: number | undefined, entryTtl: number | undefined, def: number, max: number): number {
    const ttl = requested ?? entryTtl ?? def;
    if (!Number.isInteger(ttl) || ttl < 1)
      throw new GatehouseError('entry_invalid', 'ttlSeconds must be a positive whole number');
    return Math.min(ttl, entryTtl ?? max, max);
  }

  private async mintJwt(
    entry: RegistrationEntry,
    audience: string[],
    ttlSeconds: number | undefined,
    via: string,
    grant?: Grant,
  ): Promise<JwtSvidIssued> {
    if (
      !Array.isArray(audience) ||
      audience.length === 0 ||
      audience.some((a) => typeof a !== 'string' || !a)
    ) {
      // JWT-SVID §3: aud is required.
      throw new GatehouseError('entry_invalid', 'audience is required: at least one non-empty string');
    }
    this.refuseMixedAudience(audience);
    const now = this.now();
    let ttl = this.ttl(
      ttlSeconds,
      entry.jwtSvidTtlSeconds,
      this.settings.jwtSvidTtlSeconds,
      this.settings.jwtSvidMaxTtlSeconds,
    );
    if (entry.expiresAt !== undefined)
      ttl = Math.min(ttl, Math.floor((Date.parse(entry.expiresAt) - now) / 1000));
    if (grant) ttl = Math.min(ttl, Math.floor((Date.parse(grant.expiresAt) - now) / 1000));
    if (ttl < 1)
      throw new GatehouseError('entry_inactive', `entry \`${entry.id}\` has no lifetime left to issue`);
    // Signing ends no later than this: `exp` is the issue second plus the TTL.
    const key = await this.reserveKey('jwt-svid', now + ttl * 1000);
    const extra = grant
      ? { [GRANT_CLAIM]: { id: grant.id, task: grant.task, scope: grant.scope } }
      : undefined;
    const issued = await issueJwtSvid({
      spiffeId: entry.spiffeId,
      audience,
      ttlSeconds: ttl,
      key,
      passphrase: this.settings.keyPassphrase,
      now,
      ...(extra ? { extraClaims: extra } : {}),
    });
    const jti = issued.claims.jti;
    const credential: IssuedCredential = {
      id: jti,
      type: 'jwt-svid',
      spiffeId: entry.spiffeId,
      entryId: entry.id,
      kid: key.kid,
      audience,
      via,
      issuedAt: iso(issued.claims.iat * 1000),
      expiresAt: iso(issued.claims.exp * 1000),
      ...(grant ? { grantId: grant.id } : {}),
    };
    await this.store.recordCredential(credential);
    await this.confirmEntryActive(entry, jti);
    return { token: issued.token, spiffeId: entry.spiffeId, audience, jti, expiresAt: credential.expiresAt };
  }

  /**
   * After a credential is recorded, its entry must still be active. A disable
   * or offboard that came between the check before minting and now revokes
   * what was issued up to its own time, which may be earlier than this
   * credential's issue time: the credential is revoked by itself then, and
   * not handed out. (A disable after this look has a later time, which covers it.)
   */
  private async confirmEntryActive(entry: RegistrationEntry, credentialId: string): Promise<void> {
    const now = await this.store.getEntry(entry.id);
    if (now?.status === 'active') return;
    const status = now?.status ?? 'deleted';
    await this.revoke({ target: 'credential', value: credentialId, reason: `entry ${status} while issuing` });
    throw new GatehouseError('entry_inactive', `entry \`${entry.id}\` is ${status}`);
  }

  private async mintX509(
    entry: RegistrationEntry,
    csrPem: string | undefined,
    ttlSeconds: number | undefined,
    via: string,
  ): Promise<X509SvidIssued> {
    const now = this.now();
    let ttl = this.ttl(
      ttlSeconds,
      entry.x509SvidTtlSeconds,
      this.settings.x509SvidTtlSeconds,
      this.settings.x509SvidMaxTtlSeconds,
    );
    if (entry.expiresAt !== undefined)
      ttl = Math.min(ttl, Math.floor((Date.parse(entry.expiresAt) - now) / 1000));
    if (ttl < 1)
      throw new GatehouseError('entry_inactive', `entry \`${entry.id}\` has no lifetime left to issue`);
    // `notAfter` is at most the TTL after now (earlier when the CA certificate ends first).
    const ca = await this.reserveKey('x509-svid', now + ttl * 1000);
    const issued = await issueX509Svid({
      spiffeId: entry.spiffeId,
      ...(csrPem !== undefined ? { csrPem } : {}),
      ca: { key: ca, certificatePem: ca.certificatePem!, passphrase: this.settings.keyPassphrase },
      ttlSeconds: ttl,
      now,
    });
    const expiresAt = new Date(issued.notAfter).toISOString();
    await this.store.recordCredential({
      id: issued.serial,
      type: 'x509-svid',
      spiffeId: entry.spiffeId,
      entryId: entry.id,
      kid: ca.kid,
      via,
      issuedAt: iso(now),
      expiresAt,
    });
    await this.confirmEntryActive(entry, issued.serial);
    return {
      spiffeId: entry.spiffeId,
      serial: issued.serial,
      certificatePem: issued.certificatePem,
      chainPem: issued.chainPem,
      ...(issued.privateKeyPem !== undefined ? { privateKeyPem: issued.privateKeyPem } : {}),
      expiresAt,
    };
  }

  // ---- verification -----------------------------------------------------------

  /**
   * Verifies a JWT-SVID of this trust domain: signature against the bundle,
   * audience, validity with the configured skew, and revocation (checked on
   * every call, cached verifications included).
   * @throws GatehouseError `svid_*`
   */
  async verifyJwtSvid(token: string, audience: string): Promise<VerifiedJwtSvid> {
    const { spiffeId, claims } = await this.verifier.verify(token, { audience });
    const out: VerifiedJwtSvid = { spiffeId, claims };
    const grant = (claims as Record<string, unknown>)[GRANT_CLAIM] as
      { id?: unknown; scope?: unknown } | undefined;
    if (grant && typeof grant.id === 'string') out.grant = { id: grant.id, scope: grant.scope as GrantScope };
    return out;
  }

  /**
   * Verifies an X.509-SVID chain (leaf first: PEM, or the DER certificates a
   * TLS peer presented) against the bundle, and revocation.
   *
   * A chain given as a list is remembered by that list, as verified, while
   * the bundle stays the same and the SVID is valid: the server hands in the
   * same list for every request on one connection, so a connection's
   * certificate is parsed and its signature checked once (an order of
   * magnitude off each call), while revocation is asked on every call. A
   * chain given as PEM (an enforcement point's `x-forwarded-client-cert`, a
   * `/v1/decide` request's `x509Chain`) is remembered by its text, the last
   * {@link VERIFIED_PEMS_KEPT} of them: an Envoy in front of a service sends
   * its caller's certificate with every check, and parsing and checking it
   * took milliseconds each time.
   */
  async verifyX509Svid(
    chain: string | readonly Uint8Array[],
  ): Promise<{ spiffeId: string; serial: string; expiresAt: string }> {
    const bundle = this.bundle();
    const known = typeof chain === 'string' ? this.verifiedPems.get(chain) : this.verifiedChains.get(chain);
    let verified: VerifiedChain;
    if (known !== undefined && known.bundle === bundle && this.now() < known.notAfter) verified = known;
    else {
      const result = await verifyX509Svid(
        chain,
        { [this.settings.trustDomain]: bundle },
        { now: this.now() },
      );
      const credential = await this.store.getCredential(result.serial);
      verified = {
        bundle,
        spiffeId: result.spiffeId,
        serial: result.serial,
        notAfter: Date.parse(result.notAfter),
        revocable: {
          id: result.serial,
          spiffeId: result.spiffeId,
          entryId: credential?.entryId,
          // Without a record (a store restored from an older backup), `notBefore` stands in: it is
          // never after the real issue time, so identity revocations made since still cover the
          // SVID. Taking "now" instead let such an SVID escape every revocation a second later.
          issuedAt: credential?.issuedAt ?? result.notBefore,
        },
      };
      if (typeof chain !== 'string') this.verifiedChains.set(chain, verified);
      else {
        // Bounded, oldest out: only chains that verified are kept, so callers cannot fill it with junk.
        if (this.verifiedPems.size >= VERIFIED_PEMS_KEPT)
          this.verifiedPems.delete(this.verifiedPems.keys().next().value!);
        this.verifiedPems.set(chain, verified);
      }
    }
    if (this.revocations.isRevoked(verified.revocable))
      throw new GatehouseError('svid_revoked', `X.509-SVID ${verified.serial} is revoked`);
    return {
      spiffeId: verified.spiffeId,
      serial: verified.serial,
      expiresAt: new Date(verified.notAfter).toISOString(),
    };
  }

  /** Chains verified, by the list they came in (a connection's): see {@link verifyX509Svid}. */
  private readonly verifiedChains = new WeakMap<object, VerifiedChain>();
  /** Chains verified, by their PEM text, oldest first: see {@link verifyX509Svid}. */
  private readonly verifiedPems = new Map<string, VerifiedChain>();

  private isJwtRevoked(claims: JwtSvidClaims): boolean {
    const grant = (claims as Record<string, unknown>)[GRANT_CLAIM] as { id?: string } | undefined;
    return this.revocations.isRevoked({
      id: claims.jti,
      spiffeId: claims.sub,
      issuedAt: iso((claims.iat ?? 0) * 1000),
      ...(grant?.id ? { grantId: grant.id } : {}),
    });
  }

  /** Is this credential (as recorded) revoked? For renewal and introspection. */
  isRevoked(c: {
    id: string;
    spiffeId: string;
    entryId?: string;
    grantId?: string;
    issuedAt: string;
  }): boolean {
    return this.revocations.isRevoked(c);
  }

  // ---- renewal -----------------------------------------------------------------

  /** A workload presenting its current, valid JWT-SVID gets fresh SVIDs for the same ID. */
  async renewWithJwt(token: string, options: AttestOptions = {}): Promise<AttestResult> {
    await this.checkAttestOptions(options);
    const verified = await this.verifyJwtSvid(token, this.controlPlaneAudience);
    if (verified.grant)
      throw new GatehouseError(
        'attestation_failed',
        'attestation failed: a grant credential cannot be renewed',
      );
    const entry = await this.activeEntry(verified.spiffeId);
    return this.issueForAttestation(entry, 'renewal', options);
  }

  /**
   * A workload that holds its current X.509-SVID gets fresh SVIDs for the
   * same ID: the X.509-SVID for the key of `options.csrPem` (any key: the
   * workload may move to a new one), or for a generated key without it.
   *
   * INVARIANT: `handshakeChain` is the chain the TLS client of this request
   * presented (DER, leaf first), never one read from a request: the
   * handshake's signature with the leaf's key is the only proof that the
   * caller holds it. A chain is public once sent, and a CSR signed with the
   * leaf's key carries no nonce or time, so the pair would renew for anyone
   * who once saw them. The chain is verified here as any X.509-SVID (bundle,
   * validity, revocation), and the entry must be active.
   * @throws GatehouseError `svid_*`, `entry_inactive`, `csr_invalid`
   */
  async renewWithX509(
    handshakeChain: readonly Uint8Array[],
    options: AttestOptions = {},
  ): Promise<AttestResult> {
    await this.checkAttestOptions(options);
    const current = await this.verifyX509Svid(handshakeChain);
    const entry = await this.activeEntry(current.spiffeId);
    return this.issueForAttestation(entry, 'renewal', options);
  }

  // ---- revocation --------------------------------------------------------------

  async revoke(input: { target: RevocationTarget; value: string; reason?: string }): Promise<Revocation> {
    if (!['credential', 'identity', 'entry', 'grant'].includes(input.target)) {
      throw new GatehouseError('entry_invalid', 'target must be one of credential, identity, entry, grant');
    }
    if (typeof input.value !== 'string' || input.value.length === 0 || input.value.length > 2048) {
      throw new GatehouseError('entry_invalid', 'value must be a non-empty string');
    }
    if (input.target === 'identity') parseSpiffeId(input.value);
    const value = await this.revocationValue(input.target, input.value);
    const now = this.now();
    const revocation: Revocation = {
      target: input.target,
      value,
      revokedAt: iso(now),
      expiresAt: iso(await this.coveredUntil(input.target, value, now)),
      ...(input.reason !== undefined ? { reason: String(input.reason).slice(0, 512) } : {}),
    };
    await this.store.addRevocation(revocation);
    this.revocations.add(revocation);
    if (input.target === 'entry') {
      // An entry holds one SPIFFE ID: revoking the entry revokes that identity's credentials too,
      // so verifiers that know only the token's `sub` see it.
      const entry = await this.store.getEntry(value);
      if (entry) {
        const identityUntil = await this.coveredUntil('identity', entry.spiffeId, now);
        const byIdentity: Revocation = {
          ...revocation,
          target: 'identity',
          value: entry.spiffeId,
          expiresAt: iso(Math.max(identityUntil, Date.parse(revocation.expiresAt!))),
        };
        await this.store.addRevocation(byIdentity);
        this.revocations.add(byIdentity);
      }
    }
    return revocation;
  }

  listRevocations(): Promise<Revocation[]> {
    return this.store.listRevocations();
  }

  /**
   * The value a revocation of `target` is recorded under: the form verifiers
   * look up. A revocation under any other form would be accepted and cover
   * nothing, so a serial is taken as `openssl x509 -serial` prints it (upper
   * case, colons, leading zeros) and recorded canonical, an entry by its id or
   * its SPIFFE ID, and a credential, entry or grant this trust domain does not
   * know is refused.
   * @throws GatehouseError `store_not_found`
   */
  private async revocationValue(target: RevocationTarget, value: string): Promise<string> {
    switch (target) {
      case 'credential': {
        if (await this.store.getCredential(value)) return value;
        const serial = readSerial(value.replace(/:/g, ''));
        if (serial !== undefined && (await this.store.getCredential(serial))) return serial;
        throw new GatehouseError(
          'store_not_found',
          `no credential \`${value}\` was issued here (a jti or a serial)`,
        );
      }
      case 'entry':
        return (await this.requireEntry(value)).id;
      case 'grant':
        if (await this.store.getGrant(value)) return value;
        throw new GatehouseError('store_not_found', `no grant \`${value}\``);
      default:
        return value;
    }
  }

  /**
   * Until when a revocation made at `now` may cover a valid credential
   * (epoch ms): the longest SVID lifetime from now, or the expiry of the
   * latest credential it covers that the store knows, if later (one issued
   * while the maximum lifetimes were longer). Past it the revocation is
   * pruned (pruneRevocations), so it must not come earlier.
   */
  private async coveredUntil(target: RevocationTarget, value: string, now: number): Promise<number> {
    let until =
      now + Math.max(this.settings.jwtSvidMaxTtlSeconds, this.settings.x509SvidMaxTtlSeconds) * 1000;
    const liveAt = iso(now);
    const covered =
      target === 'credential'
        ? [await this.store.getCredential(value)].filter((c) => c !== undefined)
        : await this.store.listCredentials(
            target === 'identity'
              ? { spiffeId: value, liveAt }
              : target === 'entry'
                ? { entryId: value, liveAt }
                : { grantId: value, liveAt },
          );
    for (const credential of covered) until = Math.max(until, Date.parse(credential.expiresAt));
    return until;
  }

  /** The revocations recorded after `cursor`: see {@link readRevocationChanges}. */
  revocationChanges(cursor: RevocationCursor): Promise<RevocationsRead> {
    return readRevocationChanges((after) => this.store.listRevocationChanges(after), cursor);
  }

  /** How many revocations this server enforces, held in memory. */
  get revocationsHeld(): number {
    return this.revocations.size;
  }

  /**
   * Forgets the revocations outlived now (past their expiry and a margin for
   * clocks: nothing they cover is still valid), in the store and in memory,
   * so that neither grows with every revocation ever made (a JIT grant's
   * end is one). Resolves to how many the store deleted.
   */
  async pruneRevocations(): Promise<number> {
    const now = this.now();
    const pruned = await this.store.pruneRevocations(iso(now - REVOCATION_EXPIRY_MARGIN_MS));
    this.revocations.prune(now);
    return pruned;
  }

  /**
   * Adds the revocations stored since the last look to those enforced;
   * resolves to how many were new to this server (its own come back once).
   */
  private async takeUpRevocations(): Promise<number> {
    const changes = await this.revocationChanges(this.revocationsThrough);
    const before = this.revocations.size;
    const now = this.now();
    for (const r of changes.revocations) if (!revocationOutlived(r, now)) this.revocations.add(r);
    this.revocationsThrough = changes.through;
    return this.revocations.size - before;
  }

  // ---- other servers of the same store -------------------------------------------

  /**
   * Takes up what other servers sharing the store have changed since this
   * one read it: revocations (added to those this server enforces) and
   * signing keys (a rotation: the bundle and the verifier follow). Keys
   * whose private halves do not open with this server's passphrase are not
   * taken up (`key_passphrase_wrong`); the keys known before stay.
   * Resolves to how many revocations are new and whether the published keys
   * changed.
   */
  async refreshFromStore(): Promise<{ revocations: number; keys: boolean }> {
    const revocations = await this.takeUpRevocations();
    const keys = await this.exclusive(() => this.adoptStoredKeys());
    return { revocations, keys };
  }

  /**
   * Takes the stored keys as this server's (inside {@link exclusive}); the
   * bundle and the verifier follow when the published keys changed, which
   * it returns.
   */
  private async adoptStoredKeys(): Promise<boolean> {
    const stored = await this.store.listSigningKeys();
    if (published(stored) === published(this.keys)) {
      // The same keys; other servers' reservations (`signedUntil`) are taken up all the same.
      this.keys = stored;
      return false;
    }
    for (const key of stored) {
      if (key.state !== 'retired') loadPrivateKey(key, this.settings.keyPassphrase);
    }
    this.keys = stored;
    this.sequence = Math.max(this.sequence, Number((await this.store.getMeta('bundle_sequence')) ?? '0'));
    this.bundleCache = undefined;
    this.verifier = this.newVerifier();
    return true;
  }

  // ---- JIT grants ----------------------------------------------------------------

  /**
   * Starts a JIT grant: a credential bound to one task, scoped to one service
   * and a few actions, living no longer than the task.
   */
  async startGrant(input: {
    entry: string;
    task: string;
    scope: GrantScope;
    ttlSeconds: number;
    audience?: string[];
    requestedBy?: string;
  }): Promise<{ grant: Grant; jwtSvid: JwtSvidIssued }> {
    const entry = await this.activeEntry(input.entry);
    if (typeof input.task !== 'string' || input.task.length === 0 || input.task.length > 512) {
      throw new GatehouseError(
        'grant_invalid',
        'invalid grant: task must name the task (1 to 512 characters)',
      );
    }
    const scope = checkScope(input.scope);
    const ttl = input.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > this.settings.grantMaxTtlSeconds) {
      throw new GatehouseError(
        'grant_invalid',
        `invalid grant: ttlSeconds must be between 1 and ${this.settings.grantMaxTtlSeconds}`,
      );
    }
    const now = this.now();
    const grant: Grant = {
      id: newId('grt'),
      entryId: entry.id,
      spiffeId: entry.spiffeId,
      task: input.task,
      scope,
      startedAt: iso(now),
      expiresAt: iso(now + ttl * 1000),
      ...(input.requestedBy !== undefined ? { requestedBy: input.requestedBy } : {}),
    };
    await this.store.createGrant(grant);
    const audience = input.audience?.length ? input.audience : [scope.service];
    const jwtSvid = await this.mintJwt(entry, audience, ttl, 'grant', grant);
    return { grant, jwtSvid };
  }

  /** Ends a grant's task: the grant and every credential issued for it are revoked at once. */
  async endGrant(id: string): Promise<Grant> {
    const ended = await this.store.endGrant(id, iso(this.now()));
    if (!ended) throw new GatehouseError('store_not_found', `no grant \`${id}\``);
    await this.revoke({ target: 'grant', value: id, reason: 'task ended' });
    return ended;
  }

  getGrant(id: string): Promise<Grant | undefined> {
    return this.store.getGrant(id);
  }

  listGrants(filter?: { entryId?: string; activeAt?: string }): Promise<Grant[]> {
    return this.store.listGrants(filter);
  }

  // ---- OIDC issuers --------------------------------------------------------------

  async trustOidcIssuer(input: {
    issuer: string;
    jwks?: { keys: Record<string, unknown>[] };
    jwksUri?: string;
    clockSkewSeconds?: number;
  }): Promise<OidcIssuer> {
    if (typeof input.issuer !== 'string' || !/^https:\/\/\S+$/.test(input.issuer)) {
      throw new GatehouseError('entry_invalid', 'issuer must be an https URL');
    }
    if ((input.jwks === undefined) === (input.jwksUri === undefined)) {
      throw new GatehouseError('entry_invalid', 'give exactly one of jwks or jwksUri');
    }
    if (input.jwks !== undefined && (!Array.isArray(input.jwks.keys) || input.jwks.keys.length === 0)) {
      throw new GatehouseError('entry_invalid', 'jwks must be a JWK Set with at least one key');
    }
    // Keys fetched over plain HTTP could be swapped on the way: HTTPS, but for this machine.
    if (
      input.jwksUri !== undefined &&
      !/^(https:\/\/|http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/])\S+$/.test(input.jwksUri)
    ) {
      throw new GatehouseError('entry_invalid', 'jwksUri must be an https URL (http only for localhost)');
    }
    const record: OidcIssuer = {
      issuer: input.issuer,
      createdAt: iso(this.now()),
      ...(input.jwks ? { jwks: input.jwks } : {}),
      ...(input.jwksUri ? { jwksUri: input.jwksUri } : {}),
      ...(input.clockSkewSeconds !== undefined ? { clockSkewSeconds: input.clockSkewSeconds } : {}),
    };
    await this.store.putOidcIssuer(record);
    return record;
  }

  listOidcIssuers(): Promise<OidcIssuer[]> {
    return this.store.listOidcIssuers();
  }

  // ---- admin credentials -----------------------------------------------------------

  /**
   * Creates the first admin credential when none exists and returns the
   * secret (to be shown once); returns undefined when one already exists.
   */
  ensureAdminCredential(): Promise<string | undefined> {
    // Under the store's lock: servers starting together on an empty shared store create one.
    return this.store.withLock('admin-credential', async () => {
      if ((await this.store.countAdminCredentials()) > 0) return undefined;
      const secret = newSecret('gha');
      await this.store.createAdminCredential({
        id: newId('adm'),
        hash: hashSecret(secret),
        createdAt: iso(this.now()),
      });
      return secret;
    });
  }

  async authenticateAdmin(secret: string): Promise<boolean> {
    if (!secret.startsWith('gha_') || secret.length > 128) return false;
    const hash = hashSecret(secret);
    // Admin credentials are never deleted, so a positive answer can be remembered; this keeps a
    // database read off every authenticated decision request.
    if (this.knownAdmins.has(hash)) return true;
    const found = (await this.store.getAdminCredentialByHash(hash)) !== undefined;
    if (found && this.knownAdmins.size < 1000) this.knownAdmins.add(hash);
    return found;
  }

  private readonly knownAdmins = new Set<string>();

  /** Everything the inventory snapshot needs (GET /v1/inventory). */
  async inventory(): Promise<{
    trustDomain: string;
    generatedAt: string;
    entries: RegistrationEntry[];
    credentials: IssuedCredential[];
    grants: Grant[];
    revocations: Revocation[];
  }> {
    return {
      trustDomain: this.settings.trustDomain,
      generatedAt: iso(this.now()),
      entries: await this.store.listEntries(),
      credentials: await this.store.listCredentials({ liveAt: iso(this.now()) }),
      grants: await this.store.listGrants(),
      revocations: await this.store.listRevocations(),
    };
  }
}

function entryInvalid(problems: { path: string; message: string }[]): GatehouseError {
  const first = problems[0]!;
  return new GatehouseError(
    'entry_invalid',
    `invalid entry: ${first.path}: ${first.message}` +
      (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''),
    { problems: problems.map((p) => ({ message: `${p.path}: ${p.message}` })) },
  );
}

function checkScope(value: unknown): GrantScope {
  const bad = (why: string) => new GatehouseError('grant_invalid', `invalid grant: scope: ${why}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw bad('must be an object with `service`');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v))
    if (!['service', 'methods', 'paths', 'operations'].includes(k)) throw bad(`unknown field \`${k}\``);
  if (typeof v.service !== 'string' || v.service.length === 0) throw bad('service is required');
  const list = (k: string): string[] => {
    const x = v[k];
    if (x === undefined) return [];
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string' && s.length > 0))
      throw bad(`${k} must be a list of strings`);
    return x as string[];
  };
  const methods = list('methods');
  for (const m of methods) if (!/^[A-Z]+$/.test(m)) throw bad(`method \`${m}\` must be upper case`);
  const paths = list('paths');
  for (const p of paths) {
    try {
      compilePathGlob(p);
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (!p.startsWith('/')) throw bad(`path \`${p}\` must start with \`/\``);
  }
  return { service: v.service, methods, paths, operations: list('operations') };
}

/** The `iss` of a JWT without verifying it, only to pick the issuer's keys. */
function unverifiedIssuer(token: string): string | undefined {
  if (typeof token !== 'string' || token.length > 16384) return undefined;
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { iss?: unknown };
    return typeof claims.iss === 'string' ? claims.iss : undefined;
  } catch {
    return undefined;
  }
}
