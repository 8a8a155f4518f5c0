import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

export type LoadTool = 'wrk' | 'autocannon'

export interface LoadSpec {
  url: string
  body: string
  headers: Record<string, string>
  connections: number
  /** Seconds. */
  duration: number
  /** Wrong credentials, different on every request (a flood). */
  flood?: Flood
  /** A file of JWTs, one a line: each request sends the next one as a bearer token, the first at line `offset` + 1. */
  tokens?: { file: string, offset: number }
}

/**
 * Basic credentials for `user` with a fresh wrong password, or `header` set to `prefix` and then
 * `length` random base64url characters (a wrong key or token, or a JWT signature that does not verify).
 */
export type Flood = { user: string } | { header: string, prefix: string, length: number }

export interface LoadResult {
  requests: number
  rps: number
  p50ms: number
  p99ms: number
  non2xx: number
  errors: number
}

const LUA = fileURLToPath(new URL('../../bench/post.lua', import.meta.url))
const FLOOD_LUA = fileURLToPath(new URL('../../bench/flood.lua', import.meta.url))
const TOKENS_LUA = fileURLToPath(new URL('../../bench/tokens.lua', import.meta.url))
const REPORT_LUA = fileURLToPath(new URL('../../bench/report.lua', import.meta.url))

export const WRK_TIMEOUT_S = 10

/** wrk (C, one thread): leaves more of a 2-core machine to the server than a Node load generator. */
async function runWrk (spec: LoadSpec): Promise<LoadResult> {
  const script = spec.flood !== undefined ? FLOOD_LUA : spec.tokens !== undefined ? TOKENS_LUA : LUA
  const flood = spec.flood
  // wrk's default 2 s timeout counts a slow answer as an error; 10 s keeps it a (visible) latency.
  const child = spawn('wrk', ['-t1', `-c${spec.connections}`, `-d${spec.duration}s`, '--timeout', `${WRK_TIMEOUT_S}s`, '-s', script, spec.url], {
    env: {
      ...process.env,
      WRK_REPORT: REPORT_LUA,
      FLOOD_USER: flood !== undefined && 'user' in flood ? flood.user : '',
      FLOOD_HEADER: flood !== undefined && 'header' in flood ? flood.header : '',
      FLOOD_PREFIX: flood !== undefined && 'prefix' in flood ? flood.prefix : '',
      FLOOD_LENGTH: String(flood !== undefined && 'length' in flood ? flood.length : 43),
      TOKENS_FILE: spec.tokens?.file ?? '',
      TOKENS_OFFSET: String(spec.tokens?.offset ?? 0),
      WRK_BODY: spec.body,
      WRK_HEADERS: Object.entries(spec.headers).map(([name, value]) => `${name}: ${value}`).join('\n')
    },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`wrk exited with ${code}`)
  const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN)
  const requests = value('bench_requests')
  return {
    requests,
    rps: requests / (value('bench_duration_us') / 1e6),
    p50ms: value('bench_p50_us') / 1000,
    p99ms: value('bench_p99_us') / 1000,
    non2xx: value('bench_non2xx'),
    errors: value('bench_errors')
  }
}

/** The header each request of a flood or a token file sets, for autocannon. */
function perRequestHeader (spec: LoadSpec): (() => [string, string]) | undefined {
  let counter = 0
  const flood = spec.flood
  if (flood !== undefined && 'user' in flood) {
    return () => ['authorization', 'Basic ' + Buffer.from(`${flood.user}:wrong-${++counter}-${Math.random()}`).toString('base64')]
  }
  if (flood !== undefined) return () => [flood.header, flood.prefix + randomBytes(Math.ceil(flood.length * 3 / 4)).toString('base64url').slice(0, flood.length)]
  if (spec.tokens === undefined) return undefined
  const tokens = readFileSync(spec.tokens.file, 'utf8').split('\n').filter((line) => line !== '')
  counter = spec.tokens.offset
  return () => ['authorization', `Bearer ${tokens[counter++ % tokens.length] ?? ''}`]
}

async function runAutocannon (spec: LoadSpec): Promise<LoadResult> {
  const header = perRequestHeader(spec)
  const result = await autocannon({
    url: spec.url,
    method: 'POST',
    body: spec.body,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...spec.headers },
    connections: spec.connections,
    duration: spec.duration,
    ...(header === undefined
      ? {}
      : {
          requests: [{
            setupRequest: (request) => {
              const [name, value] = header()
              return { ...request, headers: { ...request.headers, [name]: value } }
            }
          }]
        })
  })
  const requests = result.requests.total
  return {
    requests,
    rps: requests / result.duration,
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors
  }
}

export async function runLoad (tool: LoadTool, spec: LoadSpec): Promise<LoadResult> {
  return tool === 'wrk' ? await runWrk(spec) : await runAutocannon(spec)
}
