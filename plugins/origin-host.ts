import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { JsonRpcCode, sendJsonRpcError } from '../mcp/jsonrpc-error.js'

export interface OriginHostOptions {
  /** Accepted Host header values: a name (any port) or name:port. Undefined accepts any host. */
  allowedHosts?: readonly string[] | undefined
  /** Accepted Origin values, e.g. `https://app.example.com` or `http://localhost:*`. Same-origin requests always pass. */
  allowedOrigins?: readonly string[] | undefined
}

/** The Host names a server bound to loopback answers to by default. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const
export const LOOPBACK_ORIGINS = LOOPBACK_HOSTS.flatMap((host) => [`http://${host}:*`, `https://${host}:*`, `http://${host}`, `https://${host}`])

function hostName (host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0] ?? host
}

export function hostAllowed (host: string | undefined, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined) return true
  if (host === undefined || host === '') return false
  const lower = host.toLowerCase()
  return allowed.some((entry) => {
    const want = entry.toLowerCase()
    return want === lower || (hostName(want) === want && hostName(lower) === want)
  })
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

/**
 * DNS-rebinding and cross-site protection for the MCP endpoint: a Host that is not allowed, or an
 * Origin that is sent and not allowed, gets 403 with a JSON-RPC error body.
 */
async function originHostPlugin (fastify: FastifyInstance, options: OriginHostOptions): Promise<void> {
  const allowedHosts = options.allowedHosts === undefined ? undefined : [...options.allowedHosts]
  const allowedOrigins = options.allowedOrigins === undefined ? undefined : [...options.allowedOrigins]
  fastify.addHook('onRequest', function checkOriginAndHost (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const host = request.headers.host
    if (!hostAllowed(host, allowedHosts)) {
      sendJsonRpcError(reply, 403, JsonRpcCode.ServerError, 'Forbidden: Host header not allowed')
      return
    }
    const origin = request.headers.origin
    if (origin !== undefined && !originAllowed(origin, host, allowedOrigins)) {
      sendJsonRpcError(reply, 403, JsonRpcCode.ServerError, 'Forbidden: Origin not allowed')
      return
    }
    done()
  })
}

export const originHost = fp(originHostPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-origin-host' })
export default originHost
