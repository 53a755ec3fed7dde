/**
 * Normalizes a request path before matching, so that `//admin`, `/a/../admin`
 * and `/%61dmin` cannot slip past a rule written for `/admin` (the same
 * normalization Envoy applies with `normalize_path` and `merge_slashes`).
 * Answers undefined for paths that cannot be normalized safely: encoded
 * slashes or backslashes, NUL, malformed percent-encoding, or `..` above
 * the root; those requests are denied.
 */
export function normalizeRequestPath(raw: string): string | undefined {
  if (raw.charCodeAt(0) !== 0x2f /* / */) return undefined;
  // Fast path: a plain path has nothing to strip, decode, merge or resolve.
  if (isPlain(raw)) return raw;
  let path = raw;
  const q = path.search(/[?#]/);
  if (q !== -1) path = path.slice(0, q);
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

/** No `?`, `#`, `%`, `\\`, `//` or `/.` anywhere: the common case, checked without a regex. */
function isPlain(path: string): boolean {
  let previous = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f || c === 0x23 || c === 0x25 || c === 0x5c) return false; // ? # % \
    if (previous === 0x2f && (c === 0x2f || c === 0x2e)) return false; // // or /.
    previous = c;
  }
  return true;
}
