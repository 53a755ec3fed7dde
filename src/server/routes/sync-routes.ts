/**
 * What an enforcement point needs to decide on its own (docs/enforce.md):
 * `GET /v1/policy` (the texts of the active policy), `GET /v1/sync` (trust
 * bundle, revocations and policy revision, polled cheaply), and
 * `POST /v1/decisions/records` (the decisions it made, chained into the log
 * here and answered once durable).
 *
 * Callers are the admin or a workload holding a JWT-SVID for the control
 * plane. A workload ships records only for services whose SPIFFE ID it holds:
 * a proxy runs as the service it protects.
 */
import { isIsoString } from '../../core/dates.js';
import type { IdentityAuthority } from '../../core/identity/authority.js';
import type { SpiffeBundle } from '../../core/identity/bundle.js';
import type { Revocation } from '../../core/identity/credential.js';
import {
  formatRevocationCursor,
  parseRevocationCursor,
  type RevocationCursor,
} from '../../core/identity/revocation-cursor.js';
import { revocationOutlived } from '../../core/identity/revocation-set.js';
import { CREDENTIAL_TYPES } from '../../core/decision/request.js';
import type { DecisionLogWriter } from '../../core/log/decision-log-writer.js';
import type { UnchainedRecord } from '../../core/log/hash-chain.js';
import type { Clock } from '../../core/ports.js';
import { LAYERS, type PolicySourceText } from '../../core/policy/index.js';
import type { PublishedPolicy } from '../policy-manager.js';
import { forbidden, requireCaller } from '../auth.js';
import { HttpError } from '../http-error.js';
import type { Router } from '../router.js';
import { bodyList } from './params.js';

export const SYNC_API_VERSION = 'gatehouse.dev/v1';

/** `GET /v1/policy`. */
export interface PolicyResponse {
  apiVersion: typeof SYNC_API_VERSION;
  /** `sha256:…`, the revision of the policy the texts parse into. */
  revision: string;
  sources: PolicySourceText[];
  /** The number of its activation in the store (see {@link SyncResponse.policyActivation}). */
  activation: number;
}

/** `GET /v1/sync?bundleSequence=N&revocationCursor=C`. */
export interface SyncResponse {
  apiVersion: typeof SYNC_API_VERSION;
  trustDomain: string;
  /** Fetch `GET /v1/policy` when it differs from the revision held. */
  policyRevision: string;
  /**
   * The store's number of that revision's activation: activations of every
   * server of the store are numbered in order, so a proxy can tell an answer
   * from a server that has not yet taken up a later one.
   */
  policyActivation: number;
  bundleSequence: number;
  /** Present when `bundleSequence` was not given or differs. */
  bundle?: SpiffeBundle;
  /**
   * Revocations recorded since the cursor (all live ones without a cursor).
   * The list may repeat revocations already sent; adding one twice changes nothing.
   */
  revocations: Revocation[];
  /** Pass back as `revocationCursor` on the next call. */
  revocationCursor: string;
}

/** `POST /v1/decisions/records`: at most {@link MAX_RECORDS} unchained records. */
export interface RecordsResponse {
  /** Records now durable in the log, repeats of already written ones included. */
  written: number;
  /** Indexes of records the log could not take now; send them again later. */
  failed: number[];
  /**
   * Records refused as malformed, with why; sending them again cannot help.
   * The others of the batch are written all the same.
   */
  refused: { index: number; message: string }[];
}

export interface SyncDeps {
  authority: IdentityAuthority;
  writer: DecisionLogWriter;
  clock: Clock;
  /** The active policy with the number of its activation, as proxies are told it; read on every call. */
  published(): PublishedPolicy;
}

export const MAX_RECORDS = 1000;
// Decision ids written recently through this route, so that a batch sent again after a
// lost answer is not written twice, nor looked for in the log while its first copy is
// still queued. Past this memory (a restart, another server of the same log, a resend
// long after) the log's own look at write time keeps each record once.
const REMEMBERED_IDS = 200_000;

export function syncRoutes(router: Router, deps: SyncDeps): void {
  const { authority, writer, clock } = deps;

  router.add('GET', '/v1/policy', async (req) => {
    await requireCaller(authority, req);
    const {
      active: { policy, sources },
      activation,
    } = deps.published();
    const body: PolicyResponse = {
      apiVersion: SYNC_API_VERSION,
      revision: policy.revision,
      sources: sources.map((s) => ({ file: s.file, text: s.text })),
      activation,
    };
    return { status: 200, body };
  });

  router.add('GET', '/v1/sync', async (req) => {
    await requireCaller(authority, req);
    const since = cursorParam(req.query.get('revocationCursor'));
    const knownSequence = req.query.get('bundleSequence');
    const bundle = authority.bundle();
    const sequence = bundle.spiffe_sequence ?? 0;
    const now = clock.now();
    // The cursor is the store's change number (see IdentityStore.listRevocationChanges), the same
    // at every server sharing the store, and a mark of that change (see revocation-cursor.ts). A
    // cursor of an older server (a time) lies beyond every change, so such a proxy is sent every
    // live revocation once more.
    const served = deps.published();
    const changes = await authority.revocationChanges(since);
    const revocations = changes.revocations.filter((r) => !revocationOutlived(r, now));
    const body: SyncResponse = {
      apiVersion: SYNC_API_VERSION,
      trustDomain: authority.settings.trustDomain,
      policyRevision: served.active.revision,
      policyActivation: served.activation,
      bundleSequence: sequence,
      ...(knownSequence === String(sequence) ? {} : { bundle }),
      revocations,
      revocationCursor: formatRevocationCursor(changes.through),
    };
    return { status: 200, body };
  });

  const recent = new Map<string, Promise<void>>();
  const remember = (id: string, written: Promise<void>) => {
    recent.set(id, written);
    if (recent.size > REMEMBERED_IDS) recent.delete(recent.keys().next().value as string);
    written.catch(() => recent.delete(id));
  };

  router.add('POST', '/v1/decisions/records', async (req) => {
    const caller = await requireCaller(authority, req);
    const body = await req.body();
    const list = bodyList(body, 'records', MAX_RECORDS, 'records');
    // `resend` marks a batch that may repeat records sent before. Every shipped record is
    // written only once whatever it says (see below); it is checked as a contract field.
    const resend = (body as Record<string, unknown>)['resend'] ?? false;
    if (typeof resend !== 'boolean')
      throw new HttpError(400, 'request_invalid', '`resend` must be true or false');
    // A malformed record is refused alone: the rest of its batch is written.
    const refused: RecordsResponse['refused'] = [];
    const records: UnchainedRecord[] = [];
    const indexes: number[] = [];
    list.forEach((value, i) => {
      try {
        records.push(shippedRecord(value, i));
        indexes.push(i);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        refused.push({ index: i, message: err.message });
      }
    });
    if (caller.kind === 'workload') {
      const own = new Set(
        deps
          .published()
          .active.policy.services.filter((s) => s.spiffeId === caller.spiffeId)
          .map((s) => s.name),
      );
      const other = records.find((r) => !own.has(r.destination.service));
      if (other) {
        throw forbidden(
          `\`${caller.spiffeId}\` may not record decisions for service \`${other.destination.service}\``,
        );
      }
    }
    // From here to the writes nothing awaits: two batches sent at once cannot both miss an id.
    // Any record may have been logged before by another server of the same log, or by this
    // one before a restart: the log looks for it in the append's own transaction
    // (`recordOnce`), after every other writer's commit, so that it is stored once.
    const outcomes = await Promise.allSettled(
      records.map((record) => {
        // By service and id: a caller's records are of its own services only, so one cannot
        // stand for another's (decision ids are not secret: every answer carries one).
        const key = `${record.destination.service}\n${record.decisionId}`;
        const known = recent.get(key);
        if (known) return known;
        const written = writer.recordOnce(record).then(() => undefined);
        remember(key, written);
        return written;
      }),
    );
    const failed: number[] = [];
    outcomes.forEach((o, i) => o.status === 'rejected' && failed.push(indexes[i]!));
    const answer: RecordsResponse = { written: records.length - failed.length, failed, refused };
    return { status: 200, body: answer };
  });
}

function cursorParam(text: string | null): RevocationCursor {
  if (text === null || text === '') return { change: 0 };
  try {
    return parseRevocationCursor(text);
  } catch {
    throw new HttpError(400, 'request_invalid', '`revocationCursor` must be a cursor from an earlier answer');
  }
}

type Loose = Record<string, unknown>;

const isObject = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const VERDICTS = ['allow', 'deny'];
const MODES = ['enforce', 'simulate', 'observe'];
const REASON = /^[a-z_]{1,64}$/;
const MAX_TEXT = 8192;

/**
 * Checks one shipped record and rebuilds it from the fields of the v1 record
 * only, so that nothing else reaches the log.
 * @throws HttpError 400 naming the record and the field
 */
function shippedRecord(value: unknown, index: number): UnchainedRecord {
  const bad = (field: string, why: string): never => {
    throw new HttpError(400, 'request_invalid', `invalid record ${index}: ${field}: ${why}`);
  };
  const text = (o: Loose, key: string, at: string, optional = false): string | undefined => {
    const v = o[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v.length > MAX_TEXT) return bad(at, 'must be a string');
    return v;
  };
  const flag = (o: Loose, key: string): boolean => {
    if (typeof o[key] !== 'boolean') bad(key, 'must be true or false');
    return o[key] as boolean;
  };
  const oneOf = <T extends string>(o: Loose, key: string, allowed: readonly string[], at = key): T => {
    const v = o[key];
    if (typeof v !== 'string' || !allowed.includes(v)) bad(at, `must be one of ${allowed.join(', ')}`);
    return v as T;
  };
  const object = (v: unknown, at: string): Loose => (isObject(v) ? v : bad(at, 'must be an object'));

  const r = object(value, 'record');
  if (r.v !== 1) bad('v', 'must be 1');
  const via = text(r, 'via', 'via')!;
  if (!/^proxy:\S{1,256}$/.test(via)) bad('via', 'must be `proxy:<service>`');
  const source = object(r.source, 'source');
  const ip = text(source, 'ip', 'source.ip', true);
  const destination = object(r.destination, 'destination');
  const port = destination.port;
  if (port !== undefined && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535))
    bad('destination.port', 'must be an integer in 1..65535');
  const rules = r.rules;
  if (!Array.isArray(rules) || rules.length > 1000 || !rules.every((x) => typeof x === 'string'))
    bad('rules', 'must be a list of rule ids');
  const layers = object(r.layers, 'layers');
  const reason = text(r, 'reason', 'reason')!;
  if (!REASON.test(reason)) bad('reason', 'must be a decision reason');
  const latency = r.latencyMicros;
  if (!Number.isSafeInteger(latency) || (latency as number) < 0)
    bad('latencyMicros', 'must be a whole number');

  const record: UnchainedRecord = {
    v: 1,
    decisionId: text(r, 'decisionId', 'decisionId')!,
    time: text(r, 'time', 'time')!,
    policyRevision: text(r, 'policyRevision', 'policyRevision')!,
    via,
    source: {
      spiffeId: text(source, 'spiffeId', 'source.spiffeId')!,
      ...(ip !== undefined ? { ip } : {}),
      zone: text(source, 'zone', 'source.zone')!,
    },
    destination: {
      service: text(destination, 'service', 'destination.service')!,
      ...(port !== undefined ? { port: port as number } : {}),
      zone: text(destination, 'zone', 'destination.zone')!,
    },
    decision: oneOf(r, 'decision', VERDICTS),
    allowed: flag(r, 'allowed'),
    enforced: flag(r, 'enforced'),
    mode: oneOf(r, 'mode', MODES),
    wouldDeny: flag(r, 'wouldDeny'),
    layer: oneOf(r, 'layer', LAYERS),
    reason: reason as UnchainedRecord['reason'],
    rules: [...(rules as string[])],
    layers: {
      credential: oneOf(layers, 'credential', VERDICTS, 'layers.credential'),
      zone: oneOf(layers, 'zone', VERDICTS, 'layers.zone'),
      flow: oneOf(layers, 'flow', VERDICTS, 'layers.flow'),
      permission: oneOf(layers, 'permission', VERDICTS, 'layers.permission'),
    },
    latencyMicros: latency as number,
  };
  if (r.credential !== undefined) {
    const c = object(r.credential, 'credential');
    const id = text(c, 'id', 'credential.id', true);
    record.credential = {
      type: oneOf(c, 'type', CREDENTIAL_TYPES, 'credential.type'),
      ...(id !== undefined ? { id } : {}),
    };
  }
  if (r.action !== undefined) {
    const a = object(r.action, 'action');
    const action: NonNullable<UnchainedRecord['action']> = {};
    for (const k of ['method', 'path', 'operation'] as const) {
      const v = text(a, k, `action.${k}`, true);
      if (v !== undefined) action[k] = v;
    }
    record.action = action;
  }
  if (record.decisionId === '' || record.decisionId.length > 128)
    bad('decisionId', 'must be 1 to 128 characters');
  // A proxy guards one service and records only its decisions: a record naming another proxy
  // than its service's would let one service's records pass for another's.
  if (via !== `proxy:${record.destination.service}`)
    bad('via', `must be \`proxy:${record.destination.service}\`, the proxy of the record's service`);
  // The writer checks the same form; refused here, a bad time is dropped by the proxy rather
  // than retried as a record the log could not take now.
  if (!isIsoString(record.time))
    bad('time', 'must be RFC 3339 in UTC with milliseconds (years 0000 to 9999)');
  return record;
}
