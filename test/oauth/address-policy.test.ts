import type { LookupAddress } from 'node:dns'
import t from 'tap'
import { AddressRefused, createAddressPolicy, pinnedLookup } from '../../plugins/token-issuer/address-policy.js'
import { ClientMetadataDocuments, MAX_CONCURRENT_FETCHES } from '../../plugins/token-issuer/client-metadata-documents.js'
import type { FetchedDocument } from '../../plugins/token-issuer/client-metadata-fetch.js'

// What the client-document fetcher may connect to, and how long a document is kept.

t.test('only public unicast addresses, IPv4-mapped ones judged as IPv4', async (t) => {
  const policy = createAddressPolicy()
  const refused = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2002:7f00:1::', 'ff02::1', '::7f00:1', '::a9fe:a9fe', '100::1', 'not an address']
  const allowed = ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']
  t.same(refused.filter((address) => policy.allows(address)), [], 'all refused')
  t.same(allowed.filter((address) => !policy.allows(address)), [], 'all allowed')
})

t.test('allowPrivateNetworks opens exactly the networks listed', async (t) => {
  const policy = createAddressPolicy(['127.0.0.1/32', '10.0.0.0/8', 'fd00::1'])
  t.same(['127.0.0.1', '10.200.0.1', 'fd00::1', '::ffff:127.0.0.1'].filter((address) => !policy.allows(address)), [])
  t.same(['127.0.0.2', '192.168.0.1', 'fd00::2'].filter((address) => policy.allows(address)), [])
})

function resolver (addresses: LookupAddress[] | Error) {
  return (_hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void): void => {
    if (addresses instanceof Error) callback(addresses, [])
    else callback(null, addresses)
  }
}

async function lookUp (resolve: ReturnType<typeof resolver>, all: boolean): Promise<{ error: Error | null, address: unknown, family: unknown }> {
  const lookup = pinnedLookup(createAddressPolicy(), resolve)
  return await new Promise((resolve) => { lookup('docs.example', { all }, (error, address, family) => { resolve({ error, address, family }) }) })
}

t.test('the connection lookup refuses a name when any of its addresses is private (DNS rebinding)', async (t) => {
  const mixed = resolver([{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }])
  for (const all of [false, true]) {
    const { error } = await lookUp(mixed, all)
    t.ok(error instanceof AddressRefused, `refused (all: ${all})`)
    t.match(error?.message, 'docs.example resolves to an address this server does not fetch from')
  }
  const public2 = resolver([{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }])
  t.match(await lookUp(public2, false), { error: null, address: '93.184.216.34', family: 4 }, 'one address when one is asked for')
  t.match(await lookUp(public2, true), { error: null, address: [{ address: '93.184.216.34' }, { address: '2606:2800:220:1::1' }] }, 'all when all are')
  t.ok((await lookUp(resolver([]), false)).error instanceof AddressRefused, 'no address at all is refused')
  const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND docs.example'), { code: 'ENOTFOUND' })
  t.equal((await lookUp(resolver(notFound), false)).error, notFound, 'a DNS error passes through')
})

t.test('a document is kept for its max-age, at most cacheTtl, 5 minutes when it says nothing, never when no-store', async (t) => {
  let now = 0
  let fetches = 0
  const id = 'https://client.example/cimd.json'
  const json = { client_id: id, client_name: 'Cached', redirect_uris: ['http://127.0.0.1/cb'] }
  const documents = (maxAge: number | undefined, cacheTtl = 24 * 3600_000): ClientMetadataDocuments => new ClientMetadataDocuments({
    fetch: async (): Promise<FetchedDocument> => { fetches++; return { json, maxAge } },
    permissions: ['*'],
    cacheTtl,
    now: () => now
  })
  const fetchedAt = async (cache: ClientMetadataDocuments, times: number[]): Promise<number[]> => {
    const counts = []
    for (const time of times) {
      now = time
      await cache.find(id)
      counts.push(fetches)
    }
    fetches = 0
    return counts
  }
  t.same(await fetchedAt(documents(60_000), [0, 59_999, 60_000]), [1, 1, 2], 'max-age 60 s')
  t.same(await fetchedAt(documents(48 * 3600_000, 3600_000), [0, 3599_999, 3600_000]), [1, 1, 2], 'capped at cacheTtl')
  t.same(await fetchedAt(documents(undefined), [0, 299_999, 300_000]), [1, 1, 2], '5 minutes without Cache-Control')
  t.same(await fetchedAt(documents(0), [0, 0]), [1, 2], 'no-store: never kept')
  t.match(await documents(undefined).find(id), { id, name: 'Cached (client.example)', redirectUris: ['http://127.0.0.1/cb'], permissions: ['*'] })
})

t.test('concurrent first uses of a document share one fetch', async (t) => {
  let fetches = 0
  let release: () => void = () => {}
  const id = 'https://client.example/shared.json'
  const documents = new ClientMetadataDocuments({
    fetch: async (): Promise<FetchedDocument> => {
      fetches++
      await new Promise<void>((resolve) => { release = resolve })
      return { json: { client_id: id, client_name: 'Shared', redirect_uris: ['http://127.0.0.1/cb'] }, maxAge: undefined }
    },
    permissions: ['*'],
    cacheTtl: 60_000
  })
  const finds = [documents.find(id), documents.find(id), documents.find(id)]
  release()
  const clients = await Promise.all(finds)
  t.equal(fetches, 1)
  t.ok(clients.every((client) => client === clients[0]))
})

t.test('at most MAX_CONCURRENT_FETCHES documents are fetched at once; the next is refused, not queued', async (t) => {
  const releases: Array<() => void> = []
  let fetches = 0
  let hold = true
  const documents = new ClientMetadataDocuments({
    fetch: async (url): Promise<FetchedDocument> => {
      fetches++
      if (hold) await new Promise<void>((resolve) => { releases.push(resolve) })
      return { json: { client_id: url.href, client_name: 'Busy', redirect_uris: ['http://127.0.0.1/cb'] }, maxAge: undefined }
    },
    permissions: ['*'],
    cacheTtl: 60_000
  })
  const ids = Array.from({ length: MAX_CONCURRENT_FETCHES }, (_, i) => `https://client.example/${i}.json`)
  const running = ids.map(async (id) => await documents.find(id))
  await t.rejects(documents.find('https://client.example/one-too-many.json'), { message: /too many fetches are in progress/ })
  const joined = documents.find(ids[0] ?? '')
  hold = false
  for (const release of releases) release()
  await Promise.all([...running, joined])
  t.equal(fetches, MAX_CONCURRENT_FETCHES, 'a document already being fetched was joined, not refused')
  t.match(await documents.find('https://client.example/later.json'), { name: 'Busy (client.example)' }, 'fetches are accepted again once those ended')
})
