import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { accepted, invalid, missing, type AuthOutcome, type Authenticator } from '../../core/authenticator.js'
import { quote } from '../../core/challenges.js'
import { parseOptions } from '../../core/options.js'
import { frozenPrincipal, type Principal } from '../../core/principal.js'
import { certificateFacts, fingerprintOf, forwardedCertificate, tlsCertificateOf, type CertificateFacts } from './client-certificate.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { mtlsOptionsSchema, type MtlsClient, type MtlsOptions } from './mtls-options.js'
import { proxyMatcher } from './proxy-list.js'

export { mtlsOptionsSchema, type MtlsOptions } from './mtls-options.js'

/** Finds the client a certificate belongs to: a pinned fingerprint first, then a SAN, then the whole subject. */
function clientMatcher (clients: readonly MtlsClient[]): (facts: CertificateFacts) => Principal | undefined {
  const principalOf = new Map(clients.map((client) => [client, frozenPrincipal({ id: client.id, strategy: 'mtls', permissions: [...client.permissions] })]))
  const byFingerprint = new Map<string, MtlsClient>()
  const bySan = new Map<string, MtlsClient>()
  const bySubject: MtlsClient[] = []
  for (const client of clients) {
    if (client.fingerprint !== undefined) byFingerprint.set(fingerprintOf(client.fingerprint), client)
    else if (client.san !== undefined) bySan.set(client.san, client)
    else bySubject.push(client)
  }
  return (facts) => {
    const client = byFingerprint.get(facts.fingerprint) ??
      facts.san.map((name) => bySan.get(name)).find((found) => found !== undefined) ??
      bySubject.find((candidate) => sameSubject(candidate.subject ?? {}, facts.subject))
    return client === undefined ? undefined : principalOf.get(client)
  }
}

/** Every attribute equal, none missing and none extra: `CN=agent-7` does not match `CN=agent-7, O=Elsewhere`. */
function sameSubject (wanted: Readonly<Record<string, string>>, actual: CertificateFacts['subject']): boolean {
  const names = Object.keys(actual)
  return names.length === Object.keys(wanted).length && names.every((name) => actual[name] === wanted[name])
}

/**
 * A client certificate as the principal: verified by the TLS handshake against `server.tls.caFile`,
 * or forwarded by a TLS-terminating proxy in a header believed only from the proxy's address
 * (the socket's, never X-Forwarded-For). The certificate is then mapped to a configured client.
 */
export function createMtlsAuthenticator (_fastify: FastifyInstance | undefined, options: MtlsOptions): Authenticator {
  const parsed = parseOptions('mtls', mtlsOptionsSchema, options)
  const match = clientMatcher(parsed.clients)
  const forwarded = parsed.forwarded
  const header = forwarded?.header.toLowerCase()
  const trusted = forwarded === undefined ? undefined : proxyMatcher(forwarded.proxies)
  const challenge = `ClientCertificate realm=${quote(parsed.realm)}`

  const refuse = (request: FastifyRequest, reason: string, message: string): AuthOutcome => {
    request.log.warn({ event: 'auth', strategy: 'mtls', reason }, message)
    return invalid
  }
  const principalFor = (request: FastifyRequest, facts: CertificateFacts | undefined, now: number): AuthOutcome => {
    if (facts === undefined) return refuse(request, 'unparsable_certificate', 'client certificate does not parse: refused')
    if (now < facts.notBefore || now > facts.notAfter) return refuse(request, 'certificate_expired', 'client certificate outside its validity period: refused')
    const principal = match(facts)
    if (principal === undefined) return refuse(request, 'unknown_certificate', `client certificate ${facts.fingerprint} matches no configured client: refused`)
    return accepted(principal)
  }
  const fromProxy = (request: FastifyRequest, value: string | string[]): AuthOutcome => {
    const peer = request.socket?.remoteAddress
    if (trusted === undefined || peer === undefined || !trusted(peer)) {
      return refuse(request, 'untrusted_peer', `${header ?? ''} sent by an address that is not a configured proxy: refused`)
    }
    const certificate = typeof value === 'string' ? forwardedCertificate(value) : undefined
    return principalFor(request, certificate === undefined ? undefined : certificateFacts(certificate), Date.now())
  }

  return {
    strategy: 'mtls',
    challengeFamily: 'custom',
    credentialHeaders: header === undefined ? [] : [header],
    authenticate (request: FastifyRequest) {
      const value = header === undefined ? undefined : request.headers[header]
      if (value !== undefined && value !== '') return fromProxy(request, value)
      const tls = tlsCertificateOf(request)
      if (tls.kind === 'none') return missing
      if (tls.kind === 'unverified') return refuse(request, 'unverified_certificate', `client certificate not verified against server.tls.caFile (${tls.error}): refused`)
      return principalFor(request, certificateFacts(tls.der), Date.now())
    },
    challenge: () => challenge
  }
}

async function mtlsAuthPlugin (fastify: FastifyInstance, { addHook, ...options }: MtlsOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [createMtlsAuthenticator(fastify, options)], { addHook })
}

/** Client certificates (mutual TLS, or forwarded by a TLS-terminating proxy) mapped to configured clients. */
export const mtlsAuth = fp(mtlsAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-mtls' })
export default mtlsAuth
