import type { FastifyRequest } from 'fastify'
import { stdSerializers } from 'pino'

/** Header paths censored in every log line, whatever serializer a host app adds. */
export function redactedPaths (credentialHeaders: readonly string[]): string[] {
  const headers = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', ...credentialHeaders.map((h) => h.toLowerCase())]
  return [...new Set(headers)].flatMap((name) => [`req.headers["${name}"]`, `headers["${name}"]`])
}

/**
 * Fastify's request serializer, minus the query string: a client that puts a credential in the
 * URL (which is refused) must not get it written to the log either.
 */
export function safeRequestSerializer (request: FastifyRequest): Record<string, unknown> {
  const url = request.url
  const query = url.indexOf('?')
  return {
    method: request.method,
    url: query === -1 ? url : `${url.slice(0, query)}?[query redacted]`,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

/**
 * pino's error serializer, minus `rawPacket`: Node attaches the bytes it could not parse to an
 * HTTP parse error (a header too large, a malformed request line), credentials and all, and
 * Fastify logs client errors with the error attached.
 */
export function safeErrorSerializer (error: Error): { type: string, message: string, stack: string, [key: string]: unknown } {
  const { rawPacket: _rawPacket, ...serialized }: { rawPacket?: unknown, type: string, message: string, stack: string } = stdSerializers.err(error)
  return serialized
}
