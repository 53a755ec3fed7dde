export {
  parseSpiffeId,
  tryParseSpiffeId,
  spiffeIdEquals,
  trustDomainProblem,
  pathProblem,
} from './spiffe-id.js';
export type { SpiffeId } from './spiffe-id.js';
