/**
 * Normalizes a request path before matching, so that `//admin`, `/a/../admin`
 * and `/%61dmin` cannot slip past a rule written for `/admin` (the same
 * normalization Envoy applies with `normalize_path` and `merge_slashes`).
 * Answers undefined for paths that cannot be normalized safely: encoded
 * slashes or backslashes, NUL, malformed percent-encoding, or `..` above
 * the root; those requests are denied.
 */
export function normalizeRequestPath(raw: string): string | undefined {
  let path = raw;
  const q = path.search(/[?#]/);
  if (q !== -1) path = path.slice(0, q);
  if (!path.startsWith('/')) return undefined;
  // Fast path: nothing to decode, merge or resolve.
  if (!/%|\/\/|\/\.|\\/.test(path)) return path;
  if (path.includes('\\')) return undefined;
  if (path.includes('%')) {
    if (/%(?![0-9A-Fa-f]{2})/.test(path)) return undefined;
    // Encoded `/`, `\` and NUL change the structure of the path: refuse them.
    if (/%(2f|5c|00)/i.test(path)) return undefined;
    // RFC 3986 §2.3: decode percent-encoded unreserved characters only.
    path = path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(ch) ? ch : m.toUpperCase();
    });
  }
  // RFC 3986 §5.2.4 remove_dot_segments, after merging repeated slashes.
  const out: string[] = [];
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '' && !last) continue;
    if (seg === '.') {
      if (last) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}
