import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { connected, createRedis, pings } from './token-store/redis-client.js'
import type { AuditSink } from './audit.js'
import { MCP_AUTH_RATE_LIMITED, MCP_AUTH_RATE_LIMIT_UNAVAILABLE } from './auth/errors.js'
import { FailedAuthThrottled, type FailedAuthThrottle } from './auth/hook.js'
import { principalKey } from './auth/principal.js'

export interface Limit {
  max: number
  /** Milliseconds. */
  timeWindow: number
}

export interface RateLimitOptions {
  /** Per authenticated principal, across all its requests; undefined: no limit. */
  perPrincipal?: Limit | undefined
  /** Per principal and tool, for the tools named. */
  tools?: Readonly<Record<string, Limit>>
  /** Failed authentications per client address; undefined: no throttle. */
  failedAuth?: Limit | undefined
  /** Shares every counter across instances. */
  redisUrl?: string | undefined
  audit: AuditSink
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>
type LimitResult = Awaited<ReturnType<Limiter>>

async function check (limiter: Limiter, request: FastifyRequest, increment = true) {
  try {
    return await limiter(request, { increment })
  } catch {
    throw new MCP_AUTH_RATE_LIMIT_UNAVAILABLE()
  }
}

/**
 * The tools a POST calls, from its body: the `Mcp-Name` header is a copy a client could make
 * disagree with the body, and the route refuses such a request only after this hook has run.
 */
function toolsCalled (request: FastifyRequest): string[] {
  const body: unknown = request.body
  const messages: unknown[] = Array.isArray(body) ? body : [body]
  const tools: string[] = []
  for (const message of messages) {
    const m = message as { method?: unknown, params?: { name?: unknown } } | null
    if (m?.method === 'tools/call' && typeof m.params?.name === 'string') tools.push(m.params.name)
  }
  return tools
}

/**
 * Rate limits for the MCP scope, built on @fastify/rate-limit (its counters, in memory or Redis):
 * - failed authentications (returned as a throttle for the auth hook): cheap failures per client
 *   address, counted after the check; password checks per address and per account, counted
 *   before the work (see hook.ts for what is refused when);
 * - all requests per verified principal (an onRequest hook that must run after authentication,
 *   so an unauthenticated client can never spend a principal's budget);
 * - tools/call per principal and tool (a preHandler, once the body names the tool).
 * Over a limit: 429 with Retry-After and RateLimit-* headers. A counter store that cannot answer
 * fails closed: 503.
 */
export async function rateLimits (scope: FastifyInstance, options: RateLimitOptions): Promise<{ throttle: FailedAuthThrottle | undefined, addPrincipalLimits: (target?: FastifyInstance) => void, ready: () => Promise<boolean>, close: () => Promise<void> }> {
  const redis = options.redisUrl === undefined ? undefined : createRedis(options.redisUrl)
  if (redis !== undefined && !await connected(redis, 3000)) scope.log.warn('the rate-limit store (Redis) is not reachable yet: requests get 503 until it is')
  await scope.register(rateLimit, { global: false, skipOnError: false, nameSpace: 'fastify-mcp-auth-rl:', ...(redis === undefined ? {} : { redis }) })
  const create = (limit: Limit, key: (request: FastifyRequest) => string): Limiter =>
    scope.createRateLimit({ max: limit.max, timeWindow: limit.timeWindow, keyGenerator: key })
  const exceeded = (result: LimitResult): boolean => !result.isAllowed && result.isExceeded
  const waitSeconds = (result: LimitResult): number => Math.max(1, result.isAllowed ? 1 : result.ttlInSeconds)

  function refuse (request: FastifyRequest, reply: FastifyReply, kind: string, result: LimitResult): never {
    options.audit.rateLimited(request, kind)
    reply.header('retry-after', String(waitSeconds(result)))
    throw new MCP_AUTH_RATE_LIMITED(`${kind === 'principal' ? 'too many requests' : `too many ${kind} calls`}, retry in ${waitSeconds(result)} s`)
  }

  function headers (reply: FastifyReply, result: LimitResult): void {
    if (result.isAllowed) return
    reply.header('ratelimit-limit', String(result.max))
      .header('ratelimit-remaining', String(result.remaining))
      .header('ratelimit-reset', String(result.ttlInSeconds))
  }

  let throttle: FailedAuthThrottle | undefined
  if (options.failedAuth !== undefined) {
    const failedAuth = options.failedAuth
    const accounts = new WeakMap<FastifyRequest, string>()
    const perAddress = create(failedAuth, (request) => `fail:${request.ip}`)
    const perAccount = create(failedAuth, (request) => `fail-account:${accounts.get(request) ?? ''}`)
    const over = (result: LimitResult): number | undefined => !result.isAllowed && result.isExceeded ? waitSeconds(result) : undefined
    throttle = {
      // Counted before the work, so concurrent attempts cannot all slip under the limit: at most
      // the limit's worth of password checks run per window, per address and per account.
      beforeCostlyCheck: async (request, account) => {
        accounts.set(request, account)
        const [address, named] = await Promise.all([check(perAddress, request), check(perAccount, request)])
        const wait = Math.max(over(address) ?? 0, over(named) ?? 0)
        if (wait > 0) throw new FailedAuthThrottled(wait)
      },
      recordFailure: async (request) => over(await check(perAddress, request))
    }
  }

  /** The per-principal and per-tool limits, on `target` (a scope inside `scope`, after its auth hook). */
  const addPrincipalLimits = (target: FastifyInstance = scope): void => {
    const perPrincipal = options.perPrincipal
    if (perPrincipal !== undefined) {
      const limiter = create(perPrincipal, (request) => `p:${request.principal === null ? '' : principalKey(request.principal)}`)
      target.addHook('onRequest', async function principalRateLimit (request, reply) {
        if (request.principal === null) return
        const result = await check(limiter, request)
        headers(reply, result)
        if (exceeded(result)) refuse(request, reply, 'principal', result)
      })
    }
    const toolLimits = Object.entries(options.tools ?? {})
    if (toolLimits.length > 0) {
      const current = new WeakMap<FastifyRequest, string>()
      const limiters = new Map(toolLimits.map(([tool, limit]) =>
        [tool, create(limit, (request) => `t:${current.get(request) ?? ''}:${request.principal === null ? '' : principalKey(request.principal)}`)]))
      target.addHook('preHandler', async function toolRateLimit (request, reply) {
        for (const tool of toolsCalled(request)) {
          const limiter = limiters.get(tool)
          if (limiter === undefined) continue
          current.set(request, tool)
          const result = await check(limiter, request)
          if (exceeded(result)) refuse(request, reply, tool, result)
        }
      })
    }
  }

  const ready = async (): Promise<boolean> => redis === undefined || await pings(redis)
  return { throttle, addPrincipalLimits, ready, close: async () => { redis?.disconnect() } }
}
