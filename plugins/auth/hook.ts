import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Authenticator, FailureReason } from './authenticator.js'
import { MCP_AUTH_INVALID_CREDENTIALS, MCP_AUTH_MISSING_CREDENTIALS, MCP_AUTH_TOKEN_EXPIRED } from './errors.js'

const errorFor = {
  missing_credentials: MCP_AUTH_MISSING_CREDENTIALS,
  invalid_credentials: MCP_AUTH_INVALID_CREDENTIALS,
  token_expired: MCP_AUTH_TOKEN_EXPIRED
} satisfies Record<FailureReason, unknown>

export function decoratePrincipal (fastify: FastifyInstance): void {
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', null)
}

/**
 * Authenticates every request of the encapsulation context in `onRequest`, before the body is
 * read. Authenticators are tried in order and the first that accepts wins. When none does, the
 * reply carries every strategy's challenge and the most telling reason: a credential that was
 * sent and refused says more than one that was not sent at all.
 */
export function addAuthHook (fastify: FastifyInstance, authenticators: readonly Authenticator[]): void {
  decoratePrincipal(fastify)
  fastify.addHook('onRequest', async function authenticate (request: FastifyRequest, reply: FastifyReply) {
    let reason: FailureReason = 'missing_credentials'
    let failedStrategy = authenticators[0]?.strategy ?? 'none'
    const challenges: string[] = []
    for (const authenticator of authenticators) {
      const outcome = await authenticator.authenticate(request, reply)
      if (outcome.ok) {
        request.principal = outcome.principal
        return
      }
      challenges.push(authenticator.challenge(outcome.reason))
      if (reason === 'missing_credentials' && outcome.reason !== 'missing_credentials') {
        reason = outcome.reason
        failedStrategy = authenticator.strategy
      }
    }
    request.log.info({ event: 'auth', strategy: failedStrategy, outcome: 'failure', reason }, 'authentication failed')
    const distinct = [...new Set(challenges.filter((challenge) => challenge !== ''))]
    reply.code(401).header('www-authenticate', distinct.length === 1 ? distinct[0] : distinct)
    throw new errorFor[reason]()
  })
}
