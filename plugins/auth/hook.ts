import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AuthOutcome, Authenticator, FailureReason } from './authenticator.js'
import { MCP_AUTH_INVALID_CREDENTIALS, MCP_AUTH_MISSING_CREDENTIALS, MCP_AUTH_TOKEN_EXPIRED, MCP_AUTH_TOKEN_REVOKED } from './errors.js'

const errorFor = {
  missing_credentials: MCP_AUTH_MISSING_CREDENTIALS,
  invalid_credentials: MCP_AUTH_INVALID_CREDENTIALS,
  token_expired: MCP_AUTH_TOKEN_EXPIRED,
  token_revoked: MCP_AUTH_TOKEN_REVOKED
} satisfies Record<FailureReason, unknown>

export function decoratePrincipal (fastify: FastifyInstance): void {
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', null)
}

/**
 * Authenticates every request of the encapsulation context in `onRequest`, before the body is
 * read. Authenticators are tried in order and the first that accepts wins. When none does, the
 * reply carries every strategy's challenge and the most telling reason: a credential that was
 * sent and refused says more than one that was not sent at all.
 *
 * Callback style, not async: most strategies answer synchronously, and on the hot path a promise
 * per request and per strategy is measurable.
 */
export function addAuthHook (fastify: FastifyInstance, authenticators: readonly Authenticator[]): void {
  decoratePrincipal(fastify)
  fastify.addHook('onRequest', function authenticate (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    let index = 0
    let reason: FailureReason = 'missing_credentials'
    let failedStrategy = authenticators[0]?.strategy ?? 'none'
    const challenges: string[] = []

    /** Records an outcome; true when it ends the search. */
    function settle (outcome: AuthOutcome, authenticator: Authenticator): boolean {
      if (outcome.ok) {
        request.principal = outcome.principal
        return true
      }
      challenges.push(authenticator.challenge(outcome.reason, request))
      if (reason === 'missing_credentials' && outcome.reason !== 'missing_credentials') {
        reason = outcome.reason
        failedStrategy = authenticator.strategy
      }
      return false
    }

    function refuse (): void {
      request.log.info({ event: 'auth', strategy: failedStrategy, outcome: 'failure', reason }, 'authentication failed')
      const distinct = [...new Set(challenges.filter((challenge) => challenge !== ''))]
      reply.code(401).header('www-authenticate', distinct.length === 1 ? distinct[0] : distinct)
      done(new errorFor[reason]())
    }

    function next (): void {
      while (index < authenticators.length) {
        const authenticator = authenticators[index++] as Authenticator
        let outcome: AuthOutcome | Promise<AuthOutcome>
        try {
          outcome = authenticator.authenticate(request, reply)
        } catch (error) {
          done(error as Error)
          return
        }
        if (outcome instanceof Promise) {
          outcome.then((settled) => { if (settle(settled, authenticator)) done(); else next() }, (error: Error) => done(error))
          return
        }
        if (settle(outcome, authenticator)) {
          done()
          return
        }
      }
      refuse()
    }

    next()
  })
}
