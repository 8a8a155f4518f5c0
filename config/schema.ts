import { z } from 'zod'
import { duration } from '../core/duration.js'

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i

export function isLoopback (host: string): boolean {
  return LOOPBACK.test(host)
}

const tlsSchema = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** The CA that issues client certificates: clients are asked for one, checked by a strategy that reads them. */
  caFile: z.string().min(1).optional()
})

const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The URL clients use to reach this server, when it differs from host:port (behind a proxy). */
  publicUrl: z.url().optional(),
  /** HTTPS in-process. */
  tls: tlsSchema.optional(),
  /** Trust X-Forwarded-* from a proxy: true, a hop count, or the proxies' addresses. Off by default. */
  trustProxy: z.union([z.boolean(), z.number().int().nonnegative(), z.string(), z.array(z.string())]).default(false),
  /** Largest request body, in bytes (413 beyond). */
  bodyLimit: z.coerce.number().int().positive().default(1024 * 1024),
  /** Largest request head, in bytes (431 beyond). */
  maxHeaderSize: z.coerce.number().int().positive().default(16 * 1024),
  /** Time to receive a whole request (408 beyond); 0 turns it off. */
  requestTimeout: duration.default(30_000),
  /** Time a connection may stay open without a request on it. */
  keepAliveTimeout: duration.default(72_000),
  /** Time a socket may sit idle mid-request before it is closed (stops slow-body attacks); 0 turns it off. */
  connectionTimeout: duration.default(60_000),
  /** Time to wait for in-flight requests at shutdown before closing anyway. */
  shutdownTimeout: duration.default(10_000)
})

const loggerSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
})

/**
 * The config file's schema: the `server` and `logger` sections, which belong to the file itself,
 * and one section per plugin, each that plugin's own option schema (see deployment.ts).
 */
export function composeConfigSchema<S extends z.ZodRawShape> (sections: S) {
  return z.strictObject({
    server: serverSchema.prefault({}),
    logger: loggerSchema.prefault({}),
    ...sections
  })
}

export type ServerSection = z.output<typeof serverSchema>
