import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { JsonRpcCode, sendJsonRpcError } from '../core/jsonrpc.js'
import { MCP_AUTH_HOST_NOT_ALLOWED, MCP_AUTH_ORIGIN_NOT_ALLOWED } from '../core/errors.js'

export interface OriginHostOptions {
  /**
   * Accepted Host header values: a name (any port) or name:port; `*` accepts any. Unset: the
   * loopback names while the app listens only on loopback addresses (and before it listens),
   * the `publicUrl` host otherwise, or any host (with a warning) when there is neither.
   */
  allowedHosts?: readonly string[] | undefined
  /**
   * Accepted Origin values, e.g. `https://app.example.com` or `http://localhost:*`. Same-origin
   * requests always pass. Unset: loopback origins while listening only on loopback, and the
   * `publicUrl` origin.
   */
  allowedOrigins?: readonly string[] | undefined
  /** The URL clients use to reach the server (behind a proxy): its host and origin are accepted. */
  publicUrl?: string | undefined
  /** Check the Host header (default true). */
  hosts?: boolean
  /** Check the Origin header (default true); off for documents meant to be read cross-origin. */
  origins?: boolean
  /**
   * How a refusal is answered: a JSON-RPC error body (default, for MCP endpoints), or an error
   * (MCP_AUTH_HOST_NOT_ALLOWED, MCP_AUTH_ORIGIN_NOT_ALLOWED) the scope's error handler formats.
   */
  answer?: 'jsonrpc' | 'error'
}

/** Decorated where each rule applies, so that nested plugins do not apply it a second time. */
export const HOST_CHECKED = 'mcpAuthHostChecked'
export const ORIGIN_CHECKED = 'mcpAuthOriginChecked'

/** What the Host check in this scope guarantees. */
export interface HostCheck {
  /** Whether every request's Host has been checked against a list of names (not "any host"). */
  byName: () => boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by the origin-host plugin where it checks the Host header. */
    mcpAuthHostChecked?: HostCheck
  }
}

/** The Host names a server bound to loopback answers to by default. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const
export const LOOPBACK_ORIGINS = LOOPBACK_HOSTS.flatMap((host) => [`http://${host}:*`, `https://${host}:*`, `http://${host}`, `https://${host}`])

const LOOPBACK_ADDRESS = /^(127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3}|localhost)$/i

export function isLoopbackAddress (address: string): boolean {
  return LOOPBACK_ADDRESS.test(address.replace(/^\[|\]$/g, ''))
}

function hostName (host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0] ?? host
}

/** A Host rule compiled once: exact `name:port` entries, and names (entries without a port) that accept any port. */
export function hostMatcher (allowed: readonly string[] | undefined): (host: string | undefined) => boolean {
  if (allowed === undefined || allowed.includes('*')) return () => true
  const exact = new Set(allowed.map((entry) => entry.toLowerCase()))
  const anyPort = new Set([...exact].filter((entry) => hostName(entry) === entry))
  return (host) => {
    if (host === undefined || host === '') return false
    const lower = host.toLowerCase()
    return exact.has(lower) || anyPort.has(hostName(lower))
  }
}

export function originAllowed (origin: string, host: string | undefined, allowed: readonly string[] | undefined): boolean {
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return false
  }
  if (host !== undefined && parsed.host === host.toLowerCase()) return true
  return (allowed ?? []).some((entry) => {
    if (!entry.endsWith(':*')) return entry.toLowerCase() === origin.toLowerCase()
    const prefix = entry.slice(0, -2).toLowerCase()
    return `${parsed.protocol}//${hostName(parsed.host)}` === prefix && parsed.port !== ''
  })
}

interface Rules {
  hosts: readonly string[] | undefined
  /** `hosts`, compiled. */
  hostAllowed: (host: string | undefined) => boolean
  origins: readonly string[]
}

/** The rules for an app listening on `addresses` (before it listens: loopback, the safe guess). */
function defaultRules (options: OriginHostOptions, loopbackOnly: boolean): Rules {
  const publicUrl = options.publicUrl === undefined ? undefined : new URL(options.publicUrl)
  const hosts = options.allowedHosts ?? (loopbackOnly ? [...LOOPBACK_HOSTS, ...(publicUrl === undefined ? [] : [publicUrl.host])] : publicUrl === undefined ? undefined : [publicUrl.host])
  const origins = options.allowedOrigins ?? [...(loopbackOnly ? LOOPBACK_ORIGINS : []), ...(publicUrl === undefined ? [] : [publicUrl.origin])]
  return { hosts, hostAllowed: hostMatcher(hosts), origins }
}

/**
 * DNS-rebinding and cross-site protection: a Host that is not allowed, or an Origin that is sent
 * and not allowed, gets 403 with a JSON-RPC error body.
 */
async function originHostPlugin (fastify: FastifyInstance, options: OriginHostOptions): Promise<void> {
  const checkHosts = options.hosts !== false
  const checkOrigins = options.origins !== false
  let rules = defaultRules(options, true)
  // Routes registered below (mcpRoutes) see what is already checked.
  if (checkHosts) {
    const check: HostCheck = { byName: () => rules.hosts !== undefined && !rules.hosts.includes('*') }
    fastify.decorate(HOST_CHECKED, check)
  }
  if (checkOrigins) fastify.decorate(ORIGIN_CHECKED, true)
  if (options.allowedHosts === undefined || options.allowedOrigins === undefined) {
    fastify.addHook('onListen', function learnAddresses (done) {
      const loopbackOnly = this.addresses().every((address) => typeof address === 'string' ? false : isLoopbackAddress(address.address))
      rules = defaultRules(options, loopbackOnly)
      if (checkHosts && rules.hosts === undefined) {
        this.log.warn('SECURITY: the MCP endpoint listens on a non-loopback address and accepts any Host header (no DNS-rebinding protection); set allowedHosts (or publicUrl) to the names clients use')
      }
      done()
    })
  }
  const refuse = options.answer === 'error'
    ? (_reply: FastifyReply, done: HookHandlerDoneFunction, error: Error) => done(error)
    : (reply: FastifyReply, _done: HookHandlerDoneFunction, error: Error) => { sendJsonRpcError(reply, 403, JsonRpcCode.ServerError, `Forbidden: ${error.message}`) }
  fastify.addHook('onRequest', function checkOriginAndHost (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const host = request.headers.host
    if (checkHosts && !rules.hostAllowed(host)) {
      refuse(reply, done, new MCP_AUTH_HOST_NOT_ALLOWED())
      return
    }
    const origin = request.headers.origin
    if (checkOrigins && origin !== undefined && !originAllowed(origin, host, rules.origins)) {
      refuse(reply, done, new MCP_AUTH_ORIGIN_NOT_ALLOWED())
      return
    }
    done()
  })
}

export const originHost = fp(originHostPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-origin-host' })
export default originHost
