// Redirect URIs of public clients: what may be registered, and when a request's matches one.

/** A loopback redirect URI, split where RFC 8252 §7.3 lets the port vary: host and the rest, exactly as written. */
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?([/?][^#]*)?$/

/**
 * May be registered: https (any host), or http on a loopback host (RFC 8252 §7.3; the MCP
 * authorization spec: "localhost or HTTPS"); absolute, no fragment, no userinfo.
 */
export function isAllowedRedirectUri (uri: string): boolean {
  if (!URL.canParse(uri) || uri.includes('#')) return false
  const url = new URL(uri)
  if (url.username !== '' || url.password !== '') return false
  if (url.protocol === 'https:') return url.hostname !== ''
  return url.protocol === 'http:' && LOOPBACK.test(uri)
}

/**
 * Whether the `redirect_uri` of a request names `registered`: the same string, character for
 * character (no normalization: `/cb/../x`, `/CB` and an added query are other URIs), except that
 * a loopback one may name any port (RFC 8252 §7.3: native apps listen on an ephemeral port).
 */
export function redirectUriMatches (registered: string, requested: string): boolean {
  if (registered === requested) return true
  const a = LOOPBACK.exec(registered)
  const b = LOOPBACK.exec(requested)
  if (a === null || b === null) return false
  return a[1] === b[1] && (a[3] ?? '') === (b[3] ?? '') && (b[2] === undefined || Number(b[2]) <= 65535)
}
