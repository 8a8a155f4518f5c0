import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

/** Whether this server may open a connection to an address it was told to fetch from (SSRF protection). */
export interface AddressPolicy {
  allows: (address: string) => boolean
}

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3')

/** Whether `network` is CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a single address. */
export function isNetwork (network: string): boolean {
  return ipaddr.isValidCIDR(network) || ipaddr.isValid(network)
}

function parseNetwork (network: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (ipaddr.isValidCIDR(network)) return ipaddr.parseCIDR(network)
  const address = ipaddr.parse(network)
  return [address, address.kind() === 'ipv4' ? 32 : 128]
}

/**
 * Public unicast addresses only: loopback, private, link-local (cloud metadata at 169.254.169.254),
 * unique-local, carrier-grade NAT, multicast, reserved and the IPv6 ranges that embed an IPv4
 * address are all refused, unless they fall in one of `allowedNetworks`. IPv4-mapped IPv6
 * addresses are judged as the IPv4 address they carry.
 */
export function createAddressPolicy (allowedNetworks: readonly string[] = []): AddressPolicy {
  const allowed = allowedNetworks.map(parseNetwork)
  return {
    allows: (text) => {
      if (!ipaddr.isValid(text)) return false
      const address = ipaddr.process(text)
      if (allowed.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits))) return true
      // ipaddr.js calls all of ::/0 outside its special ranges unicast, the deprecated
      // IPv4-compatible ::a.b.c.d too: an IPv6 address must also be global unicast (2000::/3).
      return address.range() === 'unicast' && (address.kind() === 'ipv4' || address.match(GLOBAL_UNICAST_V6))
    }
  }
}

/** A host name or address of a URL, without the brackets of an IPv6 literal. */
export function hostOf (url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
}

/** The address a URL names literally (no DNS involved), or undefined for a host name. */
export function literalAddressOf (url: URL): string | undefined {
  const host = hostOf(url)
  return isIP(host) === 0 ? undefined : host
}

type Resolve = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void

export class AddressRefused extends Error {
  readonly code = 'MCP_AUTH_ADDRESS_REFUSED'
}

/**
 * A `lookup` for socket connections that refuses a name when any of its addresses is not allowed,
 * so the address checked is the address connected to (no DNS-rebinding window between the two).
 */
export function pinnedLookup (policy: AddressPolicy, resolve: Resolve = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family === 4 || options.family === 6 ? options.family : 0
    resolve(hostname, { family, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, [])
      if (addresses.length === 0 || !addresses.every(({ address }) => policy.allows(address))) {
        return callback(new AddressRefused(`${hostname} resolves to an address this server does not fetch from`), [])
      }
      if (options.all === true) return callback(null, addresses)
      const [first] = addresses as [LookupAddress]
      callback(null, first.address, first.family)
    })
  }
}
