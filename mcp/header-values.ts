// Header values that mirror the request body in the 2026-07-28 transport (SEP-2243): `Mcp-Name`
// and `Mcp-Param-*` values that are not plain visible ASCII travel as `=?base64?<UTF-8 bytes>?=`.

const PREFIX = '=?base64?'
const SUFFIX = '?='
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true })

/** A field value without the optional whitespace (SP, HTAB) around it (RFC 9110 §5.5). */
export function trimFieldValue (value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '')
}

/**
 * The value a header carries: decoded when it is a Base64 sentinel, as is otherwise (the markers
 * are case-sensitive, so `=?BASE64?…?=` is a literal). Undefined when the sentinel is malformed:
 * padding or alphabet errors, or bytes that are not UTF-8.
 */
export function decodeHeaderValue (raw: string): string | undefined {
  const value = trimFieldValue(raw)
  if (!value.startsWith(PREFIX) || !value.endsWith(SUFFIX) || value.length < PREFIX.length + SUFFIX.length) return value
  const encoded = value.slice(PREFIX.length, value.length - SUFFIX.length)
  if (!CANONICAL_BASE64.test(encoded)) return undefined
  try {
    return STRICT_UTF8.decode(Buffer.from(encoded, 'base64'))
  } catch {
    return undefined
  }
}

/** How a client would send `value` in a header (for tests and clients of this package). */
export function encodeHeaderValue (value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !(value.startsWith(PREFIX) && value.endsWith(SUFFIX))
  return plain ? value : `${PREFIX}${Buffer.from(value, 'utf8').toString('base64')}${SUFFIX}`
}
