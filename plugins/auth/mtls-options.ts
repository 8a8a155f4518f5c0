import { z } from 'zod'
import { permissionsSchema } from '../../core/options.js'
import { fingerprintOf } from './client-certificate.js'
import { proxyListSchema } from './proxy-list.js'

const fingerprint = z.string().refine((value) => /^[0-9a-f]{64}$/.test(fingerprintOf(value)), 'expected a SHA-256 fingerprint: 64 hex digits, colons allowed')
const san = z.string().regex(/^(DNS|URI|email|IP):\S+$/, 'expected TYPE:value with TYPE one of DNS, URI, email, IP')
const subject = z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9.]*$/, 'expected an attribute name such as CN or O'), z.string().min(1))
  .refine((attributes) => Object.keys(attributes).length > 0, 'name at least one attribute, e.g. { CN: agent-7 }')

const clientSchema = z.strictObject({
  /** The principal id the certificate's holder acts as. */
  id: z.string().min(1),
  /** The certificate's SHA-256 fingerprint (pins one certificate). */
  fingerprint: fingerprint.optional(),
  /** A subject alternative name the certificate must carry, e.g. `URI:spiffe://example.org/agent/7`. */
  san: san.optional(),
  /** The certificate's whole subject, attribute by attribute, e.g. `{ CN: agent-7, O: Acme }`. */
  subject: subject.optional(),
  permissions: permissionsSchema
}).refine((client) => [client.fingerprint, client.san, client.subject].filter((rule) => rule !== undefined).length === 1, {
  message: 'give exactly one of fingerprint, san, subject'
})

export const mtlsOptionsSchema = z.strictObject({
  /** Who each certificate is: matched by fingerprint first, then SAN, then subject. */
  clients: z.array(clientSchema).min(1, 'name at least one client')
    .refine((clients) => new Set(clients.map((client) => client.id)).size === clients.length, 'client ids must be unique'),
  /** Behind a TLS-terminating proxy: the header it forwards the verified certificate in, believed only from its addresses. */
  forwarded: z.strictObject({
    /** RFC 9440 `Client-Cert` (`:base64 DER:`) or a URL-encoded PEM (nginx `$ssl_client_escaped_cert`). */
    header: z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name').default('client-cert'),
    proxies: proxyListSchema
  }).optional(),
  realm: z.string().min(1).default('mcp')
})

export type MtlsOptions = z.input<typeof mtlsOptionsSchema>
export type MtlsClient = z.output<typeof clientSchema>
