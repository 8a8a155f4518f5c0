import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { requestLogAudit, type AuditSink } from '../audit.js'
import type { AuthOutcome, Authenticator, FailureReason } from './authenticator.js'
import { MCP_AUTH_INVALID_CREDENTIALS, MCP_AUTH_MISSING_CREDENTIALS, MCP_AUTH_RATE_LIMITED, MCP_AUTH_TOKEN_EXPIRED, MCP_AUTH_TOKEN_REVOKED } from './errors.js'

const errorFor = {
  missing_credentials: MCP_AUTH_MISSING_CREDENTIALS,
  invalid_credentials: MCP_AUTH_INVALID_CREDENTIALS,
  token_expired: MCP_AUTH_TOKEN_EXPIRED,
  token_revoked: MCP_AUTH_TOKEN_REVOKED
} satisfies Record<FailureReason, unknown>

/** Failed authentications counted per client address, checked before any credential is. */
export interface FailedAuthThrottle {
  /** Seconds until this client may try again, or undefined when it may try now. */
  blocked: (request: FastifyRequest, reply: FastifyReply) => Promise<number | undefined>
  recordFailure: (request: FastifyRequest) => Promise<void>
}

export interface AuthHookOptions {
  audit?: AuditSink | undefined
  throttle?: FailedAuthThrottle | undefined
}

export function decoratePrincipal (fastify: FastifyInstance): void {
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', null)
}

/**
 * Authenticates every request of the encapsulation context in `onRequest`, before the body is
 * read. Authenticators are tried in order and the first that accepts wins. When none does, the
 * reply carries every strategy's challenge and the most telling reason: a credential that was
 * sent and refused says more than one that was not sent at all. Every attempt is audited; with a
 * throttle, a client over its failure budget is refused before any credential is looked at.
 *
 * Callback style, not async: most strategies answer synchronously, and on the hot path a promise
 * per request and per strategy is measurable.
 */
export function addAuthHook (fastify: FastifyInstance, authenticators: readonly Authenticator[], options: AuthHookOptions = {}): void {
  decoratePrincipal(fastify)
  const audit = options.audit ?? requestLogAudit()
  const throttle = options.throttle

  function run (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    let index = 0
    let reason: FailureReason = 'missing_credentials'
    let failedStrategy = authenticators[0]?.strategy ?? 'none'
    const challenges: string[] = []

    /** Records an outcome; true when it ends the search. */
    function settle (outcome: AuthOutcome, authenticator: Authenticator): boolean {
      if (outcome.ok) {
        request.principal = outcome.principal
        audit.auth(request, { strategy: outcome.principal.strategy, outcome: 'success', principal: outcome.principal.id })
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
      audit.auth(request, { strategy: failedStrategy, outcome: 'failure', reason })
      const distinct = [...new Set(challenges.filter((challenge) => challenge !== ''))]
      reply.code(401).header('www-authenticate', distinct.length === 1 ? distinct[0] : distinct)
      const error = new errorFor[reason]()
      if (throttle === undefined) {
        done(error)
        return
      }
      throttle.recordFailure(request).then(() => done(error), (failure: Error) => done(failure))
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
  }

  fastify.addHook('onRequest', function authenticate (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    if (throttle === undefined) {
      run(request, reply, done)
      return
    }
    throttle.blocked(request, reply).then((wait) => {
      if (wait === undefined) {
        run(request, reply, done)
        return
      }
      audit.auth(request, { strategy: authenticators[0]?.strategy ?? 'none', outcome: 'throttled', reason: 'too_many_failures' })
      audit.rateLimited(request, 'failed_auth')
      reply.code(429).header('retry-after', String(wait))
      done(new MCP_AUTH_RATE_LIMITED(`too many failed authentications, retry in ${wait} s`))
    }, (error: Error) => done(error))
  })
}
