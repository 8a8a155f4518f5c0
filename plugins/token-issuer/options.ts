import { z } from 'zod'
import { duration } from '../../core/duration.js'
import { permissionsSchema } from '../../core/options.js'
import { parsePasswordHash } from '../credentials/password-hash.js'

const issueClientSchema = z.strictObject({
  id: z.string().min(1),
  secretHash: z.string().refine((hash) => parsePasswordHash(hash) !== undefined, 'expected the output of `fastify-mcp-auth hash-password`'),
  secret: z.never({ error: 'plain client secrets are refused: store secretHash, the output of `fastify-mcp-auth hash-password`' }).optional(),
  permissions: permissionsSchema
})

/** The built-in token endpoint: client credentials and refresh tokens, for deployments that sign their own tokens. */
export const issueOptionsSchema = z.strictObject({
  clients: z.array(issueClientSchema).min(1, 'at least one client is required')
    .refine((clients) => new Set(clients.map((c) => c.id)).size === clients.length, 'client ids must be unique'),
  accessTokenTtl: duration.default(15 * 60_000),
  refreshTokenTtl: duration.default(24 * 60 * 60_000),
  /**
   * A used refresh token presented again within this time of its rotation is a duplicate
   * submission (refused, nothing revoked); later, it is reuse and its whole family is revoked.
   */
  refreshReuseInterval: duration.default(2000)
})

export type IssueOptions = z.output<typeof issueOptionsSchema>
export type IssueClient = IssueOptions['clients'][number]
