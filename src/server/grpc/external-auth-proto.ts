/**
 * Loads `external-auth.proto`, the subset of Envoy's ext_authz v3 API that
 * Gatehouse serves, from the package root: the same file from `src/` under
 * tsx and from `dist/` after a build (the package ships it; see `files`).
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

// INVARIANT: this module sits three levels below the package root in both src/ and dist/.
const PROTO = fileURLToPath(new URL('../../../src/server/grpc/external-auth.proto', import.meta.url));

/** `envoy.service.auth.v3.Authorization`: its service definition, and a client for tests and tools. */
export function loadAuthorizationService(): ServiceClientConstructor {
  const definition = loadSync(PROTO, {
    // Field names as in Envoy's protos (`context_extensions`), 64-bit numbers as strings.
    keepCase: true,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: true,
  });
  const root = loadPackageDefinition(definition);
  const pkg = ((root.envoy as GrpcObject).service as GrpcObject).auth as GrpcObject;
  return (pkg.v3 as GrpcObject).Authorization as ServiceClientConstructor;
}
