/** SHA-256 of a text (its UTF-8 bytes), as lower-case hex. */
import * as crypto from 'node:crypto';

// One-shot hashing (Node 20.12 and later) saves a hash object per call, which
// matters where every decision record and every finding is hashed; the digest
// is the same.
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');
