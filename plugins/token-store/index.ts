import { z } from 'zod'
import { MemoryTokenStore } from './memory.js'
import { RedisTokenStore } from './redis.js'
import type { TokenStore } from './store.js'

export { MemoryTokenStore } from './memory.js'
export { RedisTokenStore } from './redis.js'
export type { TokenStore } from './store.js'

/** The `store` section: where refresh tokens and revocations live. */
export const tokenStoreOptionsSchema = z.strictObject({
  /** Redis for refresh tokens and revocations shared by every instance; unset or empty: this process's memory. */
  redisUrl: z.string().optional().transform((url) => url === '' ? undefined : url),
  keyPrefix: z.string().default('fastify-mcp-auth:')
})

export type StoreConfig = z.input<typeof tokenStoreOptionsSchema>

/** Redis when a URL is configured, else memory. */
export function createTokenStore (config: StoreConfig | undefined): TokenStore {
  if (config?.redisUrl !== undefined && config.redisUrl !== '') return new RedisTokenStore({ url: config.redisUrl, keyPrefix: config.keyPrefix ?? 'fastify-mcp-auth:' })
  return new MemoryTokenStore()
}
