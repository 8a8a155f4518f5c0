import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { requestLogAudit, type AuditSink } from '../audit.js'
import type { AuthAttempt, AuthOutcome, Authenticator, FailedAuthThrottle, FailureReason } from '../../core/authenticator.js'
import {
  FailedAuthThrottled, MCP_AUTH_AMBIGUOUS_CREDENTIALS, MCP_AUTH_INVALID_CREDENTIALS, MCP_AUTH_MISSING_CREDENTIALS, MCP_AUTH_RATE_LIMITED, MCP_AUTH_TOKEN_EXPIRED, MCP_AUTH_TOKEN_REVOKED
} from '../../core/errors.js'

const errorFor = {
  missing_credentials: MCP_AUTH_MISSING_CREDENTIALS,
  invalid_credentials: MCP_AUTH_INVALID_CREDENTIALS,
  token_expired: MCP_AUTH_TOKEN_EXPIRED,
  token_revoked: MCP_AUTH_TOKEN_REVOKED
} satisfies Record<FailureReason, unknown>

export interface AuthHookOptions {
  audit?: AuditSink | undefined
  throttle?: FailedAuthThrottle | undefined
}

/**
 * The first credential header sent more than once, if any. Node keeps the first of two
 * `Authorization` headers and joins repeated custom headers; either way, which credential was
 * meant is a guess this hook does not make.
 */
function repeatedHeader (rawHeaders: readonly string[], names: ReadonlySet<string>): string | undefined {
  const seen = new Set<string>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase()
    if (!names.has(name)) continue
    if (seen.has(name)) return name
    seen.add(name)
  }
  return undefined
}

export function decoratePrincipal (fastify: FastifyInstance): void {
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', null)
  if (!fastify.hasRequestDecorator('challengeFamily')) fastify.decorateRequest('challengeFamily', null)
}

/**
 * Authenticates every request of the encapsulation context in `onRequest`, before the body is
 * read. Authenticators are tried in order and the first that accepts wins. When none does, the
 * reply carries every strategy's challenge and the most telling reason: a credential that was
 * sent and refused says more than one that was not sent at all. Every attempt is audited.
 *
 * With a throttle, what counts is guessing and costly work, never a valid cheap credential: a
 * request without credentials is not counted; a wrong key, token or cached-password miss is
 * counted after its check (past the limit the answer is 429, not 401); a password check is counted
 * before it runs, per address and per account, and refused past the limit. So a client behind the
 * same address as an attacker keeps working with its key, token or remembered password.
 *
 * Callback style, not async: most strategies answer synchronously, and on the hot path a promise
 * per request and per strategy is measurable.
 */
export function addAuthHook (fastify: FastifyInstance, authenticators: readonly Authenticator[], options: AuthHookOptions = {}): void {
  decoratePrincipal(fastify)
  const audit = options.audit ?? requestLogAudit()
  const throttle = options.throttle
  const credentialHeaders = new Set(['authorization', ...authenticators.flatMap((authenticator) => authenticator.credentialHeaders ?? [])])

  function run (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    let index = 0
    let reason: FailureReason = 'missing_credentials'
    let failedStrategy = authenticators[0]?.strategy ?? 'none'
    let costly = false
    const challenges: string[] = []
    const attempt: AuthAttempt | undefined = throttle === undefined
      ? undefined
      : { beforeCostlyCheck: async (account) => { costly = true; await throttle.beforeCostlyCheck(request, account) } }

    /** Records an outcome; true when it ends the search. */
    function settle (outcome: AuthOutcome, authenticator: Authenticator): boolean {
      if (outcome.ok) {
        request.principal = outcome.principal
        request.challengeFamily = authenticator.challengeFamily ?? 'custom'
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

    function fail (error: Error): void {
      if (error instanceof FailedAuthThrottled) {
        audit.auth(request, { strategy: failedStrategy, outcome: 'throttled', reason: 'too_many_failures' })
        audit.rateLimited(request, 'failed_auth')
        reply.header('retry-after', String(error.retryAfter))
      }
      done(error)
    }

    function refuse (): void {
      audit.auth(request, { strategy: failedStrategy, outcome: 'failure', reason })
      const distinct = [...new Set(challenges.filter((challenge) => challenge !== ''))]
      reply.code(401).header('www-authenticate', distinct.length === 1 ? distinct[0] : distinct)
      const error = new errorFor[reason]()
      // No credential at all is not a guess; a costly check was counted before it ran.
      if (throttle === undefined || reason !== 'invalid_credentials' || costly) {
        done(error)
        return
      }
      throttle.recordFailure(request).then((wait) => {
        if (wait === undefined) {
          done(error)
          return
        }
        reply.code(429).removeHeader('www-authenticate').header('retry-after', String(wait))
        audit.rateLimited(request, 'failed_auth')
        done(new MCP_AUTH_RATE_LIMITED(`too many failed authentications, retry in ${wait} s`))
      }, (failure: Error) => done(failure))
    }

    function next (): void {
      while (index < authenticators.length) {
        const authenticator = authenticators[index++] as Authenticator
        let outcome: AuthOutcome | Promise<AuthOutcome>
        try {
          outcome = authenticator.authenticate(request, reply, attempt)
        } catch (error) {
          fail(error as Error)
          return
        }
        if (outcome instanceof Promise) {
          outcome.then((settled) => {
            let finished: boolean
            // Outside the hook's own call, a throw here would be an unhandled rejection: fail the request instead.
            try {
              finished = settle(settled, authenticator)
            } catch (error) {
              fail(error as Error)
              return
            }
            if (finished) done()
            else next()
          }, fail)
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
    const repeated = repeatedHeader(request.raw.rawHeaders, credentialHeaders)
    if (repeated !== undefined) {
      audit.auth(request, { strategy: authenticators[0]?.strategy ?? 'none', outcome: 'failure', reason: 'ambiguous_credentials' })
      done(new MCP_AUTH_AMBIGUOUS_CREDENTIALS(repeated))
      return
    }
    run(request, reply, done)
  })
}
