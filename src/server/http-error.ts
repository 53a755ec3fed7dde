/**
 * The one place where errors become HTTP statuses (STYLE.md §5). Known
 * `GatehouseError` codes map to a status and a public message; anything else
 * is a bare 500 whose details go only to the log.
 */
import { GatehouseError, type GatehouseErrorCode } from '../core/errors.js';

/** An error raised by the HTTP layer itself (bad JSON, missing auth, no route). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const STATUS: Partial<Record<GatehouseErrorCode, number>> = {
  policy_parse_error: 400,
  policy_invalid: 400,
  policy_invalid_reference: 400,
  request_invalid: 400,
  spiffe_id_invalid: 400,
  ip_invalid: 400,
  cidr_invalid: 400,
  csr_invalid: 400,
  entry_invalid: 400,
  grant_invalid: 400,
  bundle_invalid: 400,
  svid_malformed: 401,
  svid_oversized: 401,
  svid_bad_algorithm: 401,
  svid_unknown_key: 401,
  svid_bad_signature: 401,
  svid_expired: 401,
  svid_not_yet_valid: 401,
  svid_bad_audience: 401,
  svid_missing_claim: 401,
  svid_foreign_trust_domain: 401,
  svid_revoked: 401,
  attestation_failed: 401,
  entry_inactive: 403,
  grant_scope_exceeded: 403,
  store_conflict: 409,
  store_not_found: 404,
};

export interface ErrorResponse {
  status: number;
  body: { error: { code: string; message: string; problems?: readonly { message: string }[] } };
  headers: Record<string, string>;
  /** True when the details were withheld from the caller and belong in the log. */
  internal: boolean;
}

export function errorResponse(err: unknown): ErrorResponse {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      body: { error: { code: err.code, message: err.message } },
      headers: err.headers,
      internal: false,
    };
  }
  if (err instanceof GatehouseError) {
    const status = STATUS[err.code];
    if (status !== undefined) {
      const error: ErrorResponse['body']['error'] = { code: err.code, message: err.message };
      if (err.problems && err.problems.length > 0) error.problems = err.problems.slice(0, 100);
      return { status, body: { error }, headers: {}, internal: false };
    }
  }
  return {
    status: 500,
    body: { error: { code: 'internal_error', message: 'internal error' } },
    headers: {},
    internal: true,
  };
}
