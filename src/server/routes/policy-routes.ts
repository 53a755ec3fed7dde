/**
 * The policy lifecycle API (admin): versions, upload with validation,
 * activation (rollback included) and diff.
 */
import type { IdentityAuthority } from '../../core/identity/authority.js';
import { requireAdmin } from '../auth.js';
import { HttpError } from '../http-error.js';
import type { PolicyManager } from '../policy-manager.js';
import type { Router } from '../router.js';
import { objectBody } from './identity-routes.js';

export function policyRoutes(router: Router, authority: IdentityAuthority, policies: PolicyManager): void {
  router.add('GET', '/v1/policies', async (req) => {
    await requireAdmin(authority, req);
    const active = policies.current().revision;
    const versions = (await policies.list()).map(({ sources, ...v }) => ({
      ...v,
      files: sources.map((s) => s.file),
      active: v.revision === active,
    }));
    return { status: 200, body: { active, versions } };
  });
  router.add('POST', '/v1/policies', async (req) => {
    await requireAdmin(authority, req);
    const body = await objectBody(req);
    if (body.activate !== undefined && typeof body.activate !== 'boolean') {
      throw new HttpError(400, 'body_invalid', '`activate` must be true or false');
    }
    const comment = typeof body.comment === 'string' ? body.comment : undefined;
    const result = await policies.upload(body.sources, {
      ...(comment ? { comment } : {}),
      ...(body.activate === false ? { activate: false } : {}),
    });
    return { status: result.existing ? 200 : 201, body: result };
  });
  router.add('GET', '/v1/policies/diff', async (req) => {
    await requireAdmin(authority, req);
    const from = req.query.get('from');
    const to = req.query.get('to') ?? policies.current().revision;
    if (!from) throw new HttpError(400, 'body_invalid', '`from` is required');
    return { status: 200, body: await policies.diff(from, to) };
  });
  router.add('GET', '/v1/policies/:revision', async (req) => {
    await requireAdmin(authority, req);
    return { status: 200, body: await policies.version(req.params.revision!) };
  });
  router.add('POST', '/v1/policies/:revision/activate', async (req) => {
    await requireAdmin(authority, req);
    const active = await policies.activate(req.params.revision!);
    return { status: 200, body: { active: active.revision } };
  });
}
