import { X509Certificate, createHash } from 'node:crypto'
import { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'

/** What a request's client certificate says about its holder, read once per check. */
export interface CertificateFacts {
  /** SHA-256 over the DER certificate, lower-case hex without separators. */
  readonly fingerprint: string
  /** The subject's attributes; a multi-valued attribute is an array (and never matches a string). */
  readonly subject: Readonly<Record<string, string | readonly string[]>>
  /** Subject alternative names as `TYPE:value` (`DNS:`, `URI:`, `email:`, `IP:`). */
  readonly san: readonly string[]
  readonly notBefore: number
  readonly notAfter: number
}

/** The certificate the TLS handshake checked against `server.tls.caFile`, when the request came over TLS with one. */
export type TlsCertificate =
  | { readonly kind: 'none' }
  | { readonly kind: 'unverified', readonly error: string }
  | { readonly kind: 'verified', readonly der: Buffer }

/**
 * The peer certificate of the connection a request arrived on. Node asks for one only when the
 * server was created with `requestCert` (`server.tls.caFile`); `rejectUnauthorized: false` lets a
 * connection without one (or with an unverifiable one) through, so that the strategy answers with a
 * 401 and other strategies in a list can still run.
 */
export function tlsCertificateOf (request: FastifyRequest): TlsCertificate {
  const socket = request.raw.socket
  if (!(socket instanceof TLSSocket)) return { kind: 'none' }
  const peer = socket.getPeerCertificate(false)
  // An empty object (no `raw`) when the client sent no certificate.
  if (!Buffer.isBuffer(peer?.raw)) return { kind: 'none' }
  if (!socket.authorized) return { kind: 'unverified', error: String(socket.authorizationError ?? 'not verified') }
  return { kind: 'verified', der: peer.raw }
}

/** RFC 8705 `x5t#S256` of a DER certificate: base64url SHA-256. */
export function thumbprintOf (der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url')
}

/**
 * RFC 8705 §3: whether a token's `cnf` claim, if any, is satisfied by the request's verified TLS
 * client certificate. A token without `cnf` is a plain bearer token; one with a confirmation
 * method other than `x5t#S256` (DPoP's `jkt`, …) cannot be checked here and is never accepted.
 */
export function confirmsCertificate (cnf: unknown, request: FastifyRequest): boolean {
  if (cnf === undefined) return true
  if (typeof cnf !== 'object' || cnf === null) return false
  const expected: unknown = Reflect.get(cnf, 'x5t#S256')
  if (typeof expected !== 'string') return false
  const tls = tlsCertificateOf(request)
  return tls.kind === 'verified' && thumbprintOf(tls.der) === expected
}

const RFC9440_BYTES = /^:([A-Za-z0-9+/]+={0,2}):$/
const PEM_PREFIX = '-----BEGIN CERTIFICATE-----'

/**
 * A certificate a TLS-terminating proxy forwarded in a header: RFC 9440 `Client-Cert`
 * (`:<base64 DER>:`), or a URL-encoded PEM (nginx's `$ssl_client_escaped_cert`). Undefined when
 * the value is neither.
 */
export function forwardedCertificate (value: string): Buffer | string | undefined {
  const bytes = RFC9440_BYTES.exec(value)
  if (bytes?.[1] !== undefined) return Buffer.from(bytes[1], 'base64')
  let decoded: string
  try {
    decoded = decodeURIComponent(value)
  } catch {
    return undefined
  }
  return decoded.startsWith(PEM_PREFIX) ? decoded : undefined
}

/** The facts of a DER or PEM certificate; undefined when it does not parse. */
export function certificateFacts (certificate: Buffer | string): CertificateFacts | undefined {
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(certificate)
  } catch {
    return undefined
  }
  return {
    fingerprint: fingerprintOf(x509.fingerprint256),
    subject: subjectOf(x509),
    san: subjectAltNames(x509.subjectAltName ?? ''),
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo)
  }
}

function subjectOf (x509: X509Certificate): Record<string, string | readonly string[]> {
  const attributes: Readonly<Record<string, unknown>> = { ...x509.toLegacyObject().subject }
  const subject: Record<string, string | readonly string[]> = {}
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'))) subject[name] = value
  }
  return subject
}

/** A SHA-256 fingerprint as written anywhere (colons, spaces, either case) in one canonical form. */
export function fingerprintOf (written: string): string {
  return written.replace(/[:\s]/g, '').toLowerCase()
}

// Node prints `IP Address:10.0.0.1`; the config says `IP:10.0.0.1`, as OpenSSL's own config does.
const SAN_TYPES: Readonly<Record<string, string>> = { DNS: 'DNS', URI: 'URI', email: 'email', 'IP Address': 'IP' }
// One entry of Node's subjectAltName: `TYPE:value` or `TYPE:"json-quoted value"` (values with commas are quoted), ", "-separated.
const SAN_ENTRY = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y

/** Node's `subjectAltName` string as `TYPE:value` entries, quote-aware; entries of other types are left out. */
export function subjectAltNames (text: string): string[] {
  const names: string[] = []
  SAN_ENTRY.lastIndex = 0
  while (SAN_ENTRY.lastIndex < text.length) {
    const match = SAN_ENTRY.exec(text)
    if (match === null) break
    const [, type = '', raw = ''] = match
    const value = raw.startsWith('"') ? unquote(raw) : raw
    const name = SAN_TYPES[type]
    if (name !== undefined && value !== undefined) names.push(`${name}:${value}`)
  }
  return names
}

function unquote (quoted: string): string | undefined {
  try {
    const value: unknown = JSON.parse(quoted)
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}
