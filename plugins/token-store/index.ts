import { MemoryTokenStore } from './memory.js'
import { RedisTokenStore } from './redis.js'
import type { TokenStore } from './store.js'

export { MemoryTokenStore } from './memory.js'
export { RedisTokenStore } from './redis.js'
export { MCP_AUTH_STORE_UNAVAILABLE, type TokenStore } from './store.js'

export interface StoreConfig {
  redisUrl?: string | undefined
  keyPrefix?: string | undefined
}

/** Redis when a URL is configured, else memory. */
export function createTokenStore (config: StoreConfig | undefined): TokenStore {
  if (config?.redisUrl !== undefined) return new RedisTokenStore({ url: config.redisUrl, keyPrefix: config.keyPrefix ?? 'fastify-mcp-auth:' })
  return new MemoryTokenStore()
}
