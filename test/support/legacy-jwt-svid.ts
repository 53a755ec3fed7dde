/**
 * A JWT-SVID as servers issued it from attestation and renewal before the
 * control plane's audience went alone: the audience asked for and the
 * control plane's in one token. Signed with the active key of a running
 * server, read from its SQLite store (shared with it in WAL mode), because
 * the server itself no longer issues such a token.
 */
import assert from 'node:assert/strict';
import { issueJwtSvid } from '../../src/core/identity/jwt-svid.js';
import { parseSpiffeId } from '../../src/core/identity/spiffe-id.js';
import { openSqliteIdentityStore } from '../../src/store/index.js';

export async function legacyMixedJwtSvid(db: string, spiffeId: string, audience: string): Promise<string> {
  const store = await openSqliteIdentityStore(db);
  try {
    const key = (await store.listSigningKeys()).find((k) => k.use === 'jwt-svid' && k.state === 'active');
    assert.ok(key, 'the server has an active jwt-svid key');
    const controlPlane = `spiffe://${parseSpiffeId(spiffeId).trustDomain}/gatehouse`;
    const issued = await issueJwtSvid({ spiffeId, audience: [audience, controlPlane], key, now: Date.now() });
    return issued.token;
  } finally {
    await store.close();
  }
}
