import { Agent, request } from 'undici'
import { AddressRefused, literalAddressOf, pinnedLookup, type AddressPolicy } from './address-policy.js'

/** A document fetched for a client: its parsed JSON and how long HTTP caching lets it be kept. */
export interface FetchedDocument {
  json: unknown
  /** Cache-Control max-age in ms; 0 for no-store or no-cache; undefined when the answer says nothing. */
  maxAge: number | undefined
}

export type FetchDocument = (url: URL) => Promise<FetchedDocument>

/** Why a client's document could not be fetched; the message completes "the document …". */
export class DocumentFetchError extends Error {}

export interface DocumentFetchOptions {
  policy: AddressPolicy
  /** The largest document read, in bytes. */
  maxBytes: number
  /** Connecting, the answer and its body together, in ms. */
  timeout: number
  /** PEM certificates to trust instead of Node's bundled roots. */
  ca?: string | Buffer | undefined
}

function maxAgeOf (cacheControl: string | string[] | undefined): number | undefined {
  const value = Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl ?? ''
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(value)) return 0
  const seconds = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)/i.exec(value)?.[1]
  return seconds === undefined ? undefined : Number(seconds) * 1000
}

type Body = AsyncIterable<Buffer> & NodeJS.EventEmitter & { destroy: () => unknown }

/** Drops the rest of an answer: its stream then errors ("aborted"), which nobody needs to hear. */
function discard (body: Body): void {
  body.on('error', () => {})
  body.destroy()
}

async function readLimited (body: Body, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > maxBytes) {
      discard(body)
      throw new DocumentFetchError(`is larger than ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The signal's own, and undici's for each stage (connect, headers, body). */
const TIMEOUTS = new Set(['TimeoutError', 'AbortError', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function failure (error: unknown, timeout: number): DocumentFetchError {
  if (error instanceof DocumentFetchError) return error
  if (error instanceof AddressRefused || (error instanceof Error && error.cause instanceof AddressRefused)) return new DocumentFetchError('is on a private or loopback address, which this server does not fetch from')
  if (error instanceof Error && (TIMEOUTS.has(error.name) || TIMEOUTS.has((error as { code?: string }).code ?? ''))) return new DocumentFetchError(`did not arrive within ${timeout} ms`)
  return new DocumentFetchError('could not be fetched (the connection failed)')
}

/**
 * Fetches client documents over HTTPS with the SSRF protections of the CIMD draft: only
 * addresses the policy allows (checked at connect time, after DNS), no redirects followed, a size
 * and a time limit, no cookies or credentials sent, and a fresh connection each time.
 */
export function createDocumentFetcher (options: DocumentFetchOptions): { fetch: FetchDocument, close: () => Promise<void> } {
  const dispatcher = new Agent({
    connect: { lookup: pinnedLookup(options.policy), timeout: options.timeout, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    headersTimeout: options.timeout,
    bodyTimeout: options.timeout
  })
  const fetch: FetchDocument = async (url) => {
    const literal = literalAddressOf(url)
    if (url.protocol !== 'https:') throw new DocumentFetchError('must be fetched over https')
    if (literal !== undefined && !options.policy.allows(literal)) throw failure(new AddressRefused(literal), options.timeout)
    try {
      const answer = await request(url, { dispatcher, method: 'GET', headers: { accept: 'application/json' }, reset: true, signal: AbortSignal.timeout(options.timeout) })
      if (answer.statusCode !== 200) {
        discard(answer.body)
        throw new DocumentFetchError(answer.statusCode >= 300 && answer.statusCode < 400 ? `redirects (HTTP ${answer.statusCode}), and redirects are not followed` : `answered HTTP ${answer.statusCode}`)
      }
      const length = Number(answer.headers['content-length'] ?? 0)
      if (length > options.maxBytes) {
        discard(answer.body)
        throw new DocumentFetchError(`is larger than ${options.maxBytes} bytes`)
      }
      const text = await readLimited(answer.body, options.maxBytes)
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        throw new DocumentFetchError('is not JSON')
      }
      return { json, maxAge: maxAgeOf(answer.headers['cache-control']) }
    } catch (error) {
      throw failure(error, options.timeout)
    }
  }
  return { fetch, close: async () => { await dispatcher.close() } }
}
