/**
 * A stored version of the policy: the source texts exactly as uploaded, under
 * their content revision. Activating a version makes it the one every
 * decision point enforces; rolling back activates an earlier one.
 */
import type { PolicySourceText } from './parse.js';

export interface PolicyVersion {
  /** `sha256:<hex>` of the canonical document (revision.ts). */
  revision: string;
  sources: PolicySourceText[];
  /** Who or what uploaded it and why, free text. */
  comment?: string;
  createdAt: string;
  /** The last time this version was made active. */
  activatedAt?: string;
}
