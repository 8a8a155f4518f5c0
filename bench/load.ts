import { spawn } from 'node:child_process'
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
  /** Basic credentials for this user with a fresh wrong password on every request (a flood). */
  floodUser?: string
}

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
const REPORT_LUA = fileURLToPath(new URL('../../bench/report.lua', import.meta.url))

/** wrk (C, one thread): leaves more of a 2-core machine to the server than a Node load generator. */
async function runWrk (spec: LoadSpec): Promise<LoadResult> {
  const script = spec.floodUser === undefined ? LUA : FLOOD_LUA
  const child = spawn('wrk', ['-t1', `-c${spec.connections}`, `-d${spec.duration}s`, '-s', script, spec.url], {
    env: {
      ...process.env,
      WRK_REPORT: REPORT_LUA,
      FLOOD_USER: spec.floodUser ?? '',
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

async function runAutocannon (spec: LoadSpec): Promise<LoadResult> {
  let counter = 0
  const floodUser = spec.floodUser
  const result = await autocannon({
    url: spec.url,
    method: 'POST',
    body: spec.body,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...spec.headers },
    connections: spec.connections,
    duration: spec.duration,
    ...(floodUser === undefined
      ? {}
      : {
          requests: [{
            setupRequest: (request) => ({
              ...request,
              headers: { ...request.headers, authorization: 'Basic ' + Buffer.from(`${floodUser}:wrong-${++counter}-${Math.random()}`).toString('base64') }
            })
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
