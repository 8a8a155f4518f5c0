import { z } from 'zod'
import { formatPath } from './problems.js'
import { MCP_AUTH_INVALID_OPTION } from './errors.js'

export const permissionsSchema = z.array(z.string().min(1)).describe('granted permissions, e.g. ["calculator:*"]')

export const MIN_STATIC_SECRET_LENGTH = 16

/**
 * Parses plugin options with their schema once, at register time. A bad option throws
 * MCP_AUTH_INVALID_OPTION naming the option and what is wrong with it; the caller's object is
 * never mutated (zod returns a new one).
 */
export function parseOptions<S extends z.ZodType> (plugin: string, schema: S, options: unknown): z.output<S> {
  const result = schema.safeParse(options ?? {})
  if (result.success) return result.data
  const details = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`).join('; ')
  throw new MCP_AUTH_INVALID_OPTION(plugin, details)
}
