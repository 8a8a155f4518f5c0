import { compile as compileTrust } from '@fastify/proxy-addr'
import { z } from 'zod'

function compiles (proxies: readonly string[]): boolean {
  try {
    compileTrust([...proxies])
    return true
  } catch {
    return false
  }
}

/** The proxies whose word is taken: addresses, CIDR ranges, or `loopback`/`linklocal`/`uniquelocal`. */
export const proxyListSchema = z.array(z.string().min(1)).min(1, 'name at least one proxy address')
  .refine(compiles, 'expected IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal)')

/** Whether a TCP peer's address is one of the proxies (the socket's address, never X-Forwarded-For). */
export function proxyMatcher (proxies: readonly string[]): (address: string) => boolean {
  const trusted = compileTrust([...proxies])
  return (address) => trusted(address, 0)
}
