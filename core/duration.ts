import { parse as parseDuration } from '@lukeed/ms'
import { z } from 'zod'

/** Milliseconds, given as a number or as a string such as `30s`, `10m`, `24h`. */
export const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value
  const parsed = /^\d+$/.test(value) ? Number(value) : parseDuration(value)
  if (parsed === undefined || !Number.isFinite(parsed) || parsed < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 10m or 24h, got "${value}"` })
    return z.NEVER
  }
  return parsed
})
