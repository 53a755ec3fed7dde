/**
 * One entry of the decision log (wire format v1, docs/decision-log.md): what
 * was asked, by whom, from where, what was decided and by which rules. Records
 * are chained by hash so that a removed or altered record is detected.
 */
import type { CredentialType } from '../decision/request.js';
import type { DecisionReason, Verdict } from '../decision/decision.js';
import type { LayerName, RolloutMode } from '../policy/model.js';

export interface DecisionRecord {
  v: 1;
  /** Position in the log, from 1, without gaps. */
  seq: number;
  decisionId: string;
  /** RFC 3339 (ms) time of the decision. */
  time: string;
  policyRevision: string;
  /** Which enforcement point asked: `api`, `ext_authz`, `ext_authz_grpc`, `proxy:<service>`, `cli`. */
  via: string;
  source: {
    spiffeId: string;
    ip?: string;
    zone: string;
  };
  credential?: {
    type: CredentialType;
    id?: string;
  };
  destination: {
    service: string;
    port?: number;
    zone: string;
  };
  action?: {
    method?: string;
    path?: string;
    operation?: string;
  };
  decision: Verdict;
  allowed: boolean;
  enforced: boolean;
  mode: RolloutMode;
  wouldDeny: boolean;
  layer: LayerName;
  reason: DecisionReason;
  rules: readonly string[];
  /** Each layer's verdict. */
  layers: Readonly<Record<LayerName, Verdict>>;
  /** Time spent deciding, in microseconds. */
  latencyMicros: number;
  /** `sha256:<hex>` of the previous record (`sha256:0…0` for the first). */
  prevHash: string;
  /** `sha256:<hex>` over this record's canonical JSON without `hash`. */
  hash: string;
}
