/**
 * Every error Gatehouse raises on purpose is a `GatehouseError` with a stable
 * `code`. Codes are prefixed by the layer that raises them; edges translate
 * them once (CLI exit codes, HTTP statuses) and never parse messages.
 */
export type GatehouseErrorCode =
  | 'policy_parse_error'
  | 'policy_invalid'
  | 'policy_invalid_reference'
  | 'policy_io_error'
  | 'cel_parse_error'
  | 'cel_eval_error'
  | 'request_invalid'
  | 'ip_invalid'
  | 'cidr_invalid'
  | 'spiffe_id_invalid'
  | 'svid_malformed'
  | 'svid_oversized'
  | 'svid_bad_algorithm'
  | 'svid_unknown_key'
  | 'svid_bad_signature'
  | 'svid_expired'
  | 'svid_not_yet_valid'
  | 'svid_bad_audience'
  | 'svid_missing_claim'
  | 'svid_foreign_trust_domain'
  | 'svid_revoked'
  | 'csr_invalid'
  | 'bundle_invalid'
  | 'key_invalid'
  | 'key_passphrase_required'
  | 'key_passphrase_wrong'
  | 'attestation_failed'
  | 'entry_invalid'
  | 'entry_inactive'
  | 'grant_invalid'
  | 'grant_scope_exceeded'
  | 'store_conflict'
  | 'store_not_found'
  | 'store_error'
  | 'internal_error';

/** Where in a policy source a problem was found; all fields 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface GatehouseErrorDetails {
  location?: SourceLocation;
  /** JSON path of the offending value inside the document, e.g. `permissions[3].when`. */
  path?: string;
  ruleId?: string;
  /** Every problem found, when the error sums up a failed validation. */
  problems?: readonly { message: string }[];
  cause?: unknown;
}

export class GatehouseError extends Error {
  readonly code: GatehouseErrorCode;
  readonly location?: SourceLocation;
  readonly path?: string;
  readonly ruleId?: string;
  readonly problems?: readonly { message: string }[];

  constructor(code: GatehouseErrorCode, message: string, details: GatehouseErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'GatehouseError';
    this.code = code;
    if (details.location) this.location = details.location;
    if (details.path !== undefined) this.path = details.path;
    if (details.ruleId !== undefined) this.ruleId = details.ruleId;
    if (details.problems !== undefined) this.problems = details.problems;
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}
