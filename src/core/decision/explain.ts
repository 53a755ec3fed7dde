import type { Decision, DecisionReason } from './decision.js';
import type { LayerName } from '../policy/model.js';
import { LAYERS } from '../policy/model.js';

const REASON_TEXT: Record<DecisionReason, string> = {
  credential_valid: 'credential is valid',
  identity_missing: 'the request names no source identity',
  identity_invalid: 'the source is not a valid SPIFFE ID',
  foreign_trust_domain: 'the source belongs to a trust domain this policy does not accept',
  credential_missing: 'no credential was presented',
  credential_unverified: 'the credential was not verified',
  credential_revoked: 'the credential is revoked',
  credential_expired: 'the credential has expired',
  credential_not_yet_valid: 'the credential is not valid yet',
  grant_out_of_scope: "the request is outside the task scope of the caller's grant",
  allow_rule: 'allowed by',
  deny_rule: 'denied by',
  default_deny: 'no rule allows it (default deny)',
  request_invalid: 'the request is invalid',
  internal_error: 'the decision point failed (fail closed)',
};

const LAYER_TEXT: Record<LayerName, string> = {
  credential: 'credential',
  zone: 'zone segmentation',
  flow: 'microsegmentation (flows)',
  permission: 'identity permissions',
};

function layerLine(decision: Decision, layer: LayerName): string {
  const v = decision.layers[layer];
  const rules = v.rules.length ? ` ${v.rules.map((r) => `\`${r}\``).join(', ')}` : '';
  return `${LAYER_TEXT[layer]}: ${v.verdict} — ${REASON_TEXT[v.reason]}${rules}`;
}

/**
 * A short human explanation of a decision: the outcome and the deciding layer
 * on the first line, then each layer's verdict and any condition errors.
 */
export function explainDecision(decision: Decision): string {
  const lines: string[] = [];
  const outcome = decision.decision === 'allow' ? 'ALLOW' : 'DENY';
  const enforcement = decision.enforced
    ? 'enforced'
    : `${decision.mode} mode: not enforced${decision.wouldDeny ? ', would deny' : ''}`;
  lines.push(`${outcome} (${enforcement}) — decided at ${LAYER_TEXT[decision.layer]}`);
  if (decision.message) lines.push(`  ${decision.message}`);
  if (decision.reason !== 'request_invalid' && decision.reason !== 'internal_error') {
    for (const layer of LAYERS)
      lines.push(`  ${layer === decision.layer ? '▸' : ' '} ${layerLine(decision, layer)}`);
  }
  for (const e of decision.errors) {
    lines.push(
      `  ! condition of ${e.effect} rule \`${e.ruleId}\` failed to evaluate (${e.error}): treated as ${e.outcome === 'matched' ? 'matching (fail closed)' : 'not matching'}`,
    );
  }
  return lines.join('\n');
}
