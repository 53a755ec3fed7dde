/**
 * Lint: problems that do not make a policy invalid but that a reviewer wants
 * to see. Pure: the current time is passed in.
 */
import { compileConditionOnce } from './condition-cache.js';
import { canonicalJson } from './revision.js';
import type { FlowRule, PermissionRule, Policy, Rule, Selector, Target } from './model.js';
import type { PolicyProblem } from './problem.js';

export interface LintOptions {
  /** Milliseconds since the epoch; rules past `reviewBy` or `expires` are reported relative to it. */
  now: number;
}

/**
 * The canonical JSON of a part of a rule, made once per part in one lint: the shadow check
 * compares every allow with every unconditional deny, and on a policy of 20,000 rules making
 * the text again for each comparison took 9 s.
 */
type Canon = (part: object) => string;

function canonMemo(): Canon {
  const made = new WeakMap<object, string>();
  return (part) => {
    let text = made.get(part);
    if (text === undefined) made.set(part, (text = canonicalJson(part)));
    return text;
  };
}

/** True when every identity `narrow` selects is also selected by `broad` (judged term by term). */
function selectorCovers(broad: Selector, narrow: Selector, canon: Canon): boolean {
  if (broad === '*') return true;
  if (narrow === '*') return false;
  const broadTerms = broad.map(canon);
  return narrow.every((t) => broadTerms.includes(canon(t)));
}

function targetCovers(broad: Target, narrow: Target, canon: Canon): boolean {
  const services =
    broad.services === '*' ||
    (narrow.services !== '*' && narrow.services.every((s) => (broad.services as string[]).includes(s)));
  if (!services) return false;
  if (broad.ports === '*') return true;
  const [a, b] = [broad.ports, narrow.ports];
  // Left out (every declared port) equals only left out; `*` only `*`, which is answered above.
  if (a === undefined || b === undefined || b === '*') return a === b;
  return canon(a) === canon(b);
}

function actionsCover(broad: PermissionRule, narrow: PermissionRule, canon: Canon): boolean {
  if (broad.actions.length === 0) return true;
  const mine = broad.actions.map(canon);
  return narrow.actions.length > 0 && narrow.actions.every((a) => mine.includes(canon(a)));
}

function substance(rule: Rule): string {
  const { id: _id, description: _d, owner: _o, reviewBy: _r, location: _l, ...rest } = rule;
  return canonicalJson(rest);
}

const where = (rule: Rule) => (rule.location ? ` at ${rule.location.file}:${rule.location.line}` : '');

/** Reports duplicate, shadowed, over-wide, dead and unowned rules, and rules past review or expiry. */
export function lintPolicy(policy: Policy, options: LintOptions): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const warn = (rule: Rule, code: string, message: string) => {
    const p: PolicyProblem = { severity: 'warning', code, message, path: rule.id, ruleId: rule.id };
    if (rule.location) p.location = rule.location;
    out.push(p);
  };
  const all: Rule[] = [...policy.segmentation, ...policy.flows, ...policy.permissions];

  for (const rule of all) {
    if (!rule.owner) warn(rule, 'missing_owner', `rule \`${rule.id}\` has no owner`);
    if (rule.reviewBy && Date.parse(rule.reviewBy) <= options.now) {
      warn(rule, 'review_overdue', `rule \`${rule.id}\` was due for review on ${rule.reviewBy}`);
    }
    if (rule.expires && Date.parse(rule.expires) <= options.now) {
      warn(
        rule,
        'expired_rule',
        `rule \`${rule.id}\` expired on ${rule.expires} and no longer matches: remove it`,
      );
    }
  }

  // Duplicates: same layer, same meaning, different id.
  const seen = new Map<string, Rule>();
  for (const rule of all) {
    const key = `${rule.layer}\u0000${substance(rule)}`;
    const first = seen.get(key);
    if (first) warn(rule, 'duplicate_rule', `rule \`${rule.id}\` duplicates \`${first.id}\`${where(first)}`);
    else seen.set(key, rule);
  }

  // Shadowed: an allow that an unconditional, non-expiring deny always beats.
  const canon = canonMemo();
  const shadow = <R extends FlowRule | PermissionRule>(
    rules: R[],
    extra: (deny: R, allow: R, canon: Canon) => boolean,
  ) => {
    const denies = rules.filter((r) => r.effect === 'deny' && !r.expires && !('when' in r && r.when));
    for (const allow of rules) {
      if (allow.effect !== 'allow') continue;
      const by = denies.find(
        (d) =>
          selectorCovers(d.from, allow.from, canon) &&
          targetCovers(d.to, allow.to, canon) &&
          extra(d, allow, canon),
      );
      if (by)
        warn(
          allow,
          'shadowed_rule',
          `allow rule \`${allow.id}\` can never take effect: deny rule \`${by.id}\` always matches first`,
        );
    }
  };
  shadow(policy.flows, () => true);
  shadow(policy.permissions, actionsCover);
  for (const allow of policy.segmentation) {
    if (allow.effect !== 'allow') continue;
    const by = policy.segmentation.find(
      (d) =>
        d.effect === 'deny' &&
        !d.expires &&
        (d.from === '*' ||
          (allow.from !== '*' && allow.from.every((z) => (d.from as string[]).includes(z)))) &&
        (d.to === '*' || (allow.to !== '*' && allow.to.every((z) => (d.to as string[]).includes(z)))),
    );
    if (by)
      warn(
        allow,
        'shadowed_rule',
        `allow rule \`${allow.id}\` can never take effect: deny rule \`${by.id}\` always matches first`,
      );
  }

  // Over-wide allows: any source to any target.
  for (const rule of policy.segmentation) {
    if (rule.effect === 'allow' && rule.from === '*' && rule.to === '*') {
      warn(rule, 'wide_allow', `allow rule \`${rule.id}\` lets every zone reach every zone`);
    }
  }
  for (const rule of [...policy.flows, ...policy.permissions]) {
    if (rule.effect === 'allow' && rule.from === '*' && rule.to.services === '*') {
      warn(rule, 'wide_allow', `allow rule \`${rule.id}\` lets any identity reach any service`);
    } else if (rule.effect === 'allow' && rule.to.services === '*') {
      warn(
        rule,
        'wide_allow',
        `allow rule \`${rule.id}\` applies to every service: name the services it is for`,
      );
    }
  }

  // Dead permissions and unused flows: the layers must line up for a request to pass.
  const reaches = (rules: (FlowRule | PermissionRule)[], service: string) =>
    rules.some((r) => r.effect === 'allow' && (r.to.services === '*' || r.to.services.includes(service)));
  for (const p of policy.permissions) {
    if (p.effect !== 'allow' || p.to.services === '*') continue;
    const unreachable = p.to.services.filter((s) => !reaches(policy.flows, s));
    if (unreachable.length && unreachable.length === p.to.services.length) {
      warn(
        p,
        'dead_permission',
        `permission \`${p.id}\` can never allow anything: no flow rule allows traffic to ${unreachable.map((s) => `\`${s}\``).join(', ')}`,
      );
    }
  }
  for (const f of policy.flows) {
    if (f.effect !== 'allow' || f.to.services === '*') continue;
    const unused = f.to.services.filter((s) => !reaches(policy.permissions, s));
    if (unused.length && unused.length === f.to.services.length) {
      warn(
        f,
        'unused_flow',
        `flow \`${f.id}\` is never used: no permission rule allows any action on ${unused.map((s) => `\`${s}\``).join(', ')}`,
      );
    }
  }

  // Envoy-style prefixes that do not end at a segment boundary over-match.
  for (const p of policy.permissions) {
    for (const a of p.actions) {
      for (const prefix of a.prefixes) {
        if (!prefix.endsWith('/')) {
          warn(
            p,
            'loose_prefix',
            `prefix \`${prefix}\` in \`${p.id}\` also matches \`${prefix}-anything\`: use the path \`${prefix}/**\` or end the prefix with \`/\``,
          );
        }
      }
    }
  }
  // `matches` patterns that may backtrack for a very long time on a caller's input.
  for (const p of policy.permissions) {
    if (p.when === undefined) continue;
    for (const warning of compileConditionOnce(p.when).patternWarnings) {
      warn(p, 'regex_not_portable', `condition of \`${p.id}\`: ${warning}`);
    }
  }
  return out;
}
