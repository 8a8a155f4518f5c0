import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { pino } from 'pino'
import { z } from 'zod'
import { parseOptions } from '../core/options.js'
import { createAuditLog, fanOut, silentAudit, type AuditSink } from './audit.js'

/** The `audit` section, and the plugin's options. */
export const auditOptionsSchema = z.strictObject({
  /** On by default; off only where the throughput matters more than the record (see the benchmark). */
  enabled: z.boolean().default(true),
  /** Write audit events to this file (JSON lines) instead of stdout. */
  file: z.string().min(1).optional(),
  /** Put tool arguments in tool events. */
  includeArguments: z.boolean().default(false)
})

export type AuditLogOptions = z.input<typeof auditOptionsSchema> & {
  /** Where events go when there is no `file` (default: stdout). Tests pass a stream to read them. */
  stream?: NodeJS.WritableStream | undefined
  /** Other listeners to every event (the metrics). */
  alsoTo?: readonly AuditSink[]
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Receives every auth attempt, tool call and rate-limit refusal. */
    mcpAuthAudit: AuditSink
  }
}

/**
 * The audit log, written whatever the app's log level is: to `file`, or to stdout, through pino's
 * destination. Writes are batched (up to 4 KiB, flushed every second and at close): one write per
 * event would cost more than the request it records.
 */
function openLog (fastify: FastifyInstance, options: z.output<typeof auditOptionsSchema>, stream: NodeJS.WritableStream | undefined): AuditSink {
  if (options.file === undefined && stream !== undefined) return createAuditLog(stream, options)
  const destination = pino.destination({ dest: options.file ?? 1, sync: true, minLength: 4096, mkdir: options.file !== undefined })
  const flusher = setInterval(() => { try { destination.flush() } catch { /* not open yet */ } }, 1000)
  flusher.unref()
  fastify.addHook('onClose', async () => {
    clearInterval(flusher)
    // end() writes what is buffered (once the file is open) and closes it: no event is lost.
    // stdout is flushed, not closed.
    if (options.file === undefined) destination.flushSync()
    else await new Promise<void>((resolve) => { destination.once('close', () => resolve()); destination.end() })
  })
  return createAuditLog(destination, options)
}

async function auditLogPlugin (fastify: FastifyInstance, { stream, alsoTo = [], ...section }: AuditLogOptions): Promise<void> {
  const options = parseOptions('audit-log', auditOptionsSchema, section)
  const log = options.enabled ? openLog(fastify, options, stream) : silentAudit()
  fastify.decorate('mcpAuthAudit', alsoTo.length === 0 ? log : fanOut(log, ...alsoTo))
}

export const auditLog = fp(auditLogPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-audit-log' })
export default auditLog
