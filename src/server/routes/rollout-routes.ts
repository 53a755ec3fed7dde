/**
 * The rollout API (admin, docs/rollout.md#the-rollout-api): observe →
 * simulate → enforce over HTTP. The flows are the server's own decision log
 * (every decided request is a flow), optionally with flow lines posted in the
 * request body (VPC Flow Logs, Hubble, Gatehouse flow records), resolved
 * against the active policy and the server's inventory.
 *
 * - `GET|POST /v1/map`: the dependency map (JSON, DOT or Mermaid);
 * - `POST /v1/simulate`: a candidate policy replayed against the flows;
 * - `GET|POST /v1/suggest`: least-privilege rules from the flows;
 * - `GET|POST /v1/assess`: rollout readiness per service;
 * - `POST /v1/flows/import`: posted flow lines, resolved, with the ingest report.
 *
 * GET reads its options from the query; POST from a JSON body, which may also
 * carry flows. Bodies are bounded by the server's body limit (413 beyond).
 */
import {
  createDecisionLogParser,
  createFlowParser,
  declaredServiceNames,
  EndpointResolver,
  FlowIngest,
  FLOW_INPUT_FORMATS,
  parseVpcLogFormat,
  type FlowInputFormat,
  type FlowRecord,
  type IngestReport,
} from '../../core/analysis/flows/index.js';
import { parseUtcTime } from '../../core/utc-time.js';
import {
  Assessment,
  DependencyMapBuilder,
  dependencyMapDot,
  dependencyMapMermaid,
  Simulation,
  SuggestionBuilder,
} from '../../core/analysis/rollout/index.js';
import type { IdentityAuthority } from '../../core/identity/authority.js';
import type { InventorySnapshot } from '../../core/identity/inventory.js';
import type { Clock, DecisionLogFilter, DecisionLogStore } from '../../core/ports.js';
import { parsePolicy, type Policy } from '../../core/policy/index.js';
import { requireAdmin } from '../auth.js';
import { HttpError } from '../http-error.js';
import type { PolicyManager } from '../policy-manager.js';
import type { RouteRequest, Router } from '../router.js';
import { countParam, enumParam, timeParam, type Params } from './params.js';

export interface RolloutRouteDeps {
  authority: IdentityAuthority;
  log: DecisionLogStore;
  policies: PolicyManager;
  clock: Clock;
}

/** Decision records read per store round trip. */
const SCAN_BATCH = 2000;
/** Problems kept with their line numbers; every bad line is counted. */
const MAX_PROBLEMS = 100;
/** Flows listed per simulation group. */
const MAX_FLOWS_PER_GROUP = 20;
const MAP_FORMATS = ['json', 'dot', 'mermaid'] as const;

const invalid = (message: string) => new HttpError(400, 'request_invalid', message);

/** Posted flow lines: their format and the lines as one text. */
interface PostedFlows {
  format: FlowInputFormat;
  text: string;
  vpcFields?: string[];
}

/** What an analysis request asks for, from the query (GET) or the body (POST). */
interface AnalysisRequest {
  services?: string[];
  since?: number;
  until?: number;
  now?: number;
  context?: Record<string, unknown>;
  /** Read the decision log (default true; false to analyse only posted flows). */
  decisionLog: boolean;
  flows?: PostedFlows;
  /** The rest of the body, for options of one verb. */
  body: Record<string, unknown>;
}

export function rolloutRoutes(router: Router, deps: RolloutRouteDeps): void {
  const { authority, policies } = deps;

  const map = async (req: RouteRequest) => {
    await requireAdmin(authority, req);
    const a = await analysisRequest(req);
    const format = enumParam(options(req, a), 'format', MAP_FORMATS) ?? 'json';
    const policy = policies.current().policy;
    checkServices(a.services, [policy]);
    const builder = new DependencyMapBuilder(policy, a.services ? { services: a.services } : {});
    const ingest = await collectFlows(deps, a, policy, (r) => builder.add(r));
    const result = builder.finish();
    if (format === 'json') return { status: 200, body: { ...result, ingest } };
    return {
      status: 200,
      body: format === 'dot' ? dependencyMapDot(result) : dependencyMapMermaid(result),
      headers: {
        'content-type': format === 'dot' ? 'text/vnd.graphviz; charset=utf-8' : 'text/plain; charset=utf-8',
        'x-gatehouse-bad-lines': String(ingest.problems),
      },
    };
  };
  router.add('GET', '/v1/map', map);
  router.add('POST', '/v1/map', map);

  router.add('POST', '/v1/simulate', async (req) => {
    await requireAdmin(authority, req);
    const a = await analysisRequest(req);
    const active = policies.current().policy;
    const candidate = await candidatePolicy(a.body, policies);
    checkServices(a.services, [candidate, active]);
    const minFlows = countParam(a.body, 'minFlows', 1);
    const simulation = new Simulation({
      candidate,
      current: active,
      now: a.now ?? deps.clock.now(),
      maxFlowsPerGroup: MAX_FLOWS_PER_GROUP,
      ...(a.services ? { services: a.services } : {}),
      ...(a.context ? { context: a.context } : {}),
      ...(minFlows !== undefined ? { minFlows } : {}),
    });
    // Endpoints resolve against the candidate: a candidate that splits a zone is judged on the new split.
    const ingest = await collectFlows(deps, a, candidate, (r) => simulation.add(r));
    return { status: 200, body: { ...simulation.finish(), ingest } };
  });

  const suggest = async (req: RouteRequest) => {
    await requireAdmin(authority, req);
    const a = await analysisRequest(req);
    const base = policies.current().policy;
    checkServices(a.services, [base]);
    const inventory = await authority.inventory();
    const reviewDays = countParam(options(req, a), 'reviewDays', 1);
    const builder = new SuggestionBuilder({
      base,
      now: a.now ?? deps.clock.now(),
      inventory,
      ...(a.services ? { services: a.services } : {}),
      ...(a.context ? { context: a.context } : {}),
      ...(reviewDays !== undefined ? { reviewDays } : {}),
    });
    const ingest = await collectFlows(deps, a, base, (r) => builder.add(r), inventory);
    return { status: 200, body: { ...builder.finish(), ingest } };
  };
  router.add('GET', '/v1/suggest', suggest);
  router.add('POST', '/v1/suggest', suggest);

  const assess = async (req: RouteRequest) => {
    await requireAdmin(authority, req);
    const a = await analysisRequest(req);
    const policy = policies.current().policy;
    checkServices(a.services, [policy]);
    const inventory = await authority.inventory();
    const assessment = new Assessment({
      policy,
      inventory,
      now: a.now ?? deps.clock.now(),
      ...(a.services ? { services: a.services } : {}),
      ...(a.context ? { context: a.context } : {}),
    });
    const ingest = await collectFlows(deps, a, policy, (r) => assessment.add(r), inventory);
    return { status: 200, body: { ...assessment.finish(), ingest } };
  };
  router.add('GET', '/v1/assess', assess);
  router.add('POST', '/v1/assess', assess);

  // The raw body is the flow lines themselves, as the tools wrote them.
  router.add('POST', '/v1/flows/import', async (req) => {
    await requireAdmin(authority, req);
    const format = enumParam(req.query, 'format', FLOW_INPUT_FORMATS) ?? 'gatehouse';
    const vpcFields = vpcFieldsOf(req.query.get('vpcFields') ?? undefined, format);
    const policy = policies.current().policy;
    const records: FlowRecord[] = [];
    const ingest = new FlowIngest({
      resolver: new EndpointResolver(policy, await authority.inventory()),
      maxProblems: MAX_PROBLEMS,
    });
    readPosted(ingest, { format, text: (await req.rawBody()).toString('utf8'), ...vpcFields }, policy, (r) =>
      records.push(r),
    );
    return { status: 200, body: { records, report: ingest.report() } };
  });
}

/**
 * Streams the flows of an analysis request into `sink`: the decision log one
 * batch at a time (constant memory), then the posted lines. Only records
 * within `since`/`until` are kept.
 */
async function collectFlows(
  deps: RolloutRouteDeps,
  a: AnalysisRequest,
  policy: Policy,
  sink: (r: FlowRecord) => void,
  inventory?: InventorySnapshot,
): Promise<IngestReport> {
  const ingest = new FlowIngest({
    resolver: new EndpointResolver(policy, inventory ?? (await deps.authority.inventory())),
    maxProblems: MAX_PROBLEMS,
  });
  const { since, until } = a;
  const inWindow =
    since === undefined && until === undefined
      ? sink
      : (r: FlowRecord) => {
          const t = parseUtcTime(r.time);
          if ((since === undefined || t >= since) && (until === undefined || t < until)) sink(r);
        };
  if (a.decisionLog) {
    ingest.startFile('decision-log', createDecisionLogParser());
    for await (const batch of logLines(deps.log, since, until))
      for (const line of batch) {
        const r = ingest.line(line);
        if (r) inWindow(r);
      }
  }
  if (a.flows) readPosted(ingest, a.flows, policy, inWindow);
  return ingest.report();
}

/**
 * The decision log's lines, a batch at a time. A time window is asked of the
 * store, which reads it by its time index instead of the whole log; without
 * one the log is scanned in order.
 */
async function* logLines(
  log: DecisionLogStore,
  since: number | undefined,
  until: number | undefined,
): AsyncGenerator<readonly string[]> {
  if (since === undefined && until === undefined) {
    for await (const batch of log.scan(1, SCAN_BATCH)) yield batch.map((stored) => stored.json);
    return;
  }
  const filter: DecisionLogFilter = { limit: SCAN_BATCH };
  if (since !== undefined) filter.since = new Date(since).toISOString();
  if (until !== undefined) filter.until = new Date(until).toISOString();
  for (;;) {
    const page = await log.query(filter);
    if (page.length === 0) return;
    yield page.map((record) => JSON.stringify(record));
    filter.afterSeq = page[page.length - 1]!.seq;
  }
}

function readPosted(
  ingest: FlowIngest,
  flows: PostedFlows,
  policy: Policy,
  sink: (r: FlowRecord) => void,
): void {
  ingest.startFile(
    'body',
    createFlowParser(flows.format, {
      trustDomain: policy.trustDomain,
      ...(flows.vpcFields ? { vpcFields: flows.vpcFields } : {}),
    }),
  );
  const lines = flows.text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const r = ingest.line(line.endsWith('\r') ? line.slice(0, -1) : line);
    if (r) sink(r);
  }
}

async function analysisRequest(req: RouteRequest): Promise<AnalysisRequest> {
  if (req.method !== 'POST') {
    const services = req.query.getAll('service').flatMap((s) => s.split(',').filter((x) => x !== ''));
    return {
      ...(services.length ? { services: [...new Set(services)] } : {}),
      ...times(req.query),
      decisionLog: true,
      body: {},
    };
  }
  const body = await req.body();
  if (body === undefined) return { decisionLog: true, body: {} };
  if (!isObject(body)) throw new HttpError(400, 'body_invalid', 'request body must be a JSON object');
  const out: AnalysisRequest = { decisionLog: true, body, ...times(body) };
  const services = body.service ?? body.services;
  if (services !== undefined) {
    const list = typeof services === 'string' ? [services] : services;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === ''))
      throw invalid('`service` must be a service name or a list of them');
    if (list.length) out.services = [...new Set(list as string[])];
  }
  if (body.context !== undefined) {
    if (!isObject(body.context)) throw invalid('`context` must be a JSON object such as {"mtls": true}');
    out.context = body.context;
  }
  if (body.decisionLog !== undefined) {
    if (typeof body.decisionLog !== 'boolean') throw invalid('`decisionLog` must be true or false');
    out.decisionLog = body.decisionLog;
  }
  if (body.flows !== undefined) {
    const f = body.flows;
    if (!isObject(f) || typeof f.text !== 'string')
      throw invalid('`flows` must be {format, text}: the flow lines as one text');
    const format = enumParam(f, 'format', FLOW_INPUT_FORMATS, 'flows.format') ?? 'gatehouse';
    if (f.vpcFields !== undefined && typeof f.vpcFields !== 'string')
      throw invalid('`flows.vpcFields` must be a VPC flow log format string');
    out.flows = { format, text: f.text, ...vpcFieldsOf(f.vpcFields, format) };
  }
  return out;
}

/** The candidate of a simulation: policy sources in the body, or a stored version by revision. */
async function candidatePolicy(body: Record<string, unknown>, policies: PolicyManager): Promise<Policy> {
  if (typeof body.revision === 'string' && body.sources === undefined)
    return parsePolicy((await policies.version(body.revision)).sources);
  const sources = body.sources;
  if (
    !Array.isArray(sources) ||
    sources.length === 0 ||
    sources.some(
      (s) => !isObject(s) || typeof s.file !== 'string' || s.file === '' || typeof s.text !== 'string',
    )
  )
    throw invalid(
      'the candidate is `sources` (a list of {file, text} policy files) or the `revision` of a stored version',
    );
  return parsePolicy(sources.map((s) => ({ file: String(s.file), text: String(s.text) })));
}

function checkServices(services: readonly string[] | undefined, policies: readonly Policy[]): void {
  if (!services) return;
  const known = declaredServiceNames(policies);
  for (const s of services) if (!known.has(s)) throw invalid(`unknown service \`${s}\``);
}

function vpcFieldsOf(text: unknown, format: FlowInputFormat): { vpcFields?: string[] } {
  if (text === undefined || text === null) return {};
  if (format !== 'vpc') throw invalid('`vpcFields` applies to the vpc format only');
  const parsed = parseVpcLogFormat(String(text));
  if ('problem' in parsed) throw invalid(`\`vpcFields\`: ${parsed.problem}`);
  return { vpcFields: [...parsed.fields] };
}

/** The time window and decision time of an analysis request. */
function times(from: Params): Pick<AnalysisRequest, 'since' | 'until' | 'now'> {
  const out: Pick<AnalysisRequest, 'since' | 'until' | 'now'> = {};
  for (const k of ['since', 'until', 'now'] as const) {
    const t = timeParam(from, k);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/** Where a verb reads its own options: the query of a GET, the body of a POST. */
function options(req: RouteRequest, a: AnalysisRequest): Params {
  return req.method === 'POST' ? a.body : req.query;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
