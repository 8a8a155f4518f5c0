import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * mcp-remote (the devDependency, pinned), as Claude Desktop runs it, but started with this Node and
 * never through npx: `mcp-remote` is the stdio proxy (`dist/proxy.js`), `mcp-remote-client` connects,
 * lists tools and exits (`dist/client.js`); see its package.json `bin`.
 */
const PACKAGE = fileURLToPath(new URL('../../node_modules/mcp-remote/', import.meta.url))
export const MCP_REMOTE_BINS = { client: join(PACKAGE, 'dist/client.js'), proxy: join(PACKAGE, 'dist/proxy.js') } as const

/** The line mcp-remote writes to stderr whether or not it could open a browser. */
const AUTHORIZE_LINE = /Please authorize this client by visiting:\n(\S+)/

export interface McpRemote {
  child: ChildProcessWithoutNullStreams
  /** Everything written to stderr so far (mcp-remote's log). */
  stderr: () => string
  /** Resolves once stderr matches `pattern` (tested against the whole log), or rejects after `timeoutMs` or on exit. */
  waitForLog: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>
  /** The `n`th authorization URL (0: the first) mcp-remote printed, once printed. */
  authorizeUrl: (n?: number, timeoutMs?: number) => Promise<string>
  /** The URLs mcp-remote handed to the "browser" (the capture script set as BROWSER). */
  openedUrls: () => string[]
  exited: Promise<number | null>
  /** Ends the process (if running) and removes its config dir. */
  stop: () => Promise<void>
}

/**
 * Starts mcp-remote with a config dir of its own (no tokens from other runs, nor from ~/.mcp-auth)
 * and BROWSER set to a script that records the URL and exits 0, so `open` reports success and
 * the test drives the URL in Chromium instead. `--host 127.0.0.1` puts the callback on the same
 * loopback address the server's publicUrl uses; `--auth-timeout 120` leaves room on a busy CI.
 */
export function startMcpRemote (kind: keyof typeof MCP_REMOTE_BINS, url: string, extraArgs: readonly string[] = []): McpRemote {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-remote-'))
  const opened = join(dir, 'opened-urls.txt')
  const browser = join(dir, 'capture-browser.sh')
  writeFileSync(browser, '#!/bin/sh\nprintf \'%s\\n\' "$1" >> "$MCP_REMOTE_TEST_OPENED"\nexit 0\n')
  chmodSync(browser, 0o755)
  const child = spawn(process.execPath, [MCP_REMOTE_BINS[kind], url, '--host', '127.0.0.1', '--auth-timeout', '120', ...extraArgs], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      MCP_REMOTE_CONFIG_DIR: join(dir, 'config'),
      BROWSER: browser,
      MCP_REMOTE_TEST_OPENED: opened,
      // No desktop: xdg-open falls through to $BROWSER.
      DISPLAY: ''
    },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let log = ''
  const listeners = new Set<() => void>()
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8')
    for (const listener of listeners) listener()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    resolve(code)
    for (const listener of listeners) listener()
  }))

  const waitForLog = async (pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> => await new Promise((resolve, reject) => {
    const check = (): void => {
      pattern.lastIndex = 0
      const found = pattern.exec(log)
      if (found !== null) {
        done()
        resolve(found)
      } else if (child.exitCode !== null || child.signalCode !== null) {
        done()
        reject(new Error(`mcp-remote exited (${child.exitCode ?? child.signalCode ?? '?'}) before ${pattern}; its log:\n${log}`))
      }
    }
    const timer = setTimeout(() => { done(); reject(new Error(`no ${pattern} from mcp-remote within ${timeoutMs} ms; its log:\n${log}`)) }, timeoutMs)
    const done = (): void => { clearTimeout(timer); listeners.delete(check) }
    listeners.add(check)
    check()
  })

  return {
    child,
    stderr: () => log,
    waitForLog,
    authorizeUrl: async (n = 0, timeoutMs = 30_000) => {
      const nth = new RegExp(`(?:[\\s\\S]*?${AUTHORIZE_LINE.source}){${n + 1}}`)
      const found = await waitForLog(nth, timeoutMs)
      return found[1] ?? ''
    },
    openedUrls: () => {
      try {
        return readFileSync(opened, 'utf8').split('\n').filter((line) => line !== '')
      } catch {
        return []
      }
    },
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface JsonRpcResponse {
  jsonrpc: '2.0'
  id: number
  result?: Record<string, unknown>
  error?: { code: number, message: string, data?: unknown }
}

/**
 * Talks JSON-RPC to the stdio proxy the way Claude Desktop does: one JSON message per line on its
 * stdin, answers read line by line from its stdout, matched by id.
 */
export class StdioPeer {
  readonly #proxy: McpRemote
  readonly #answers = new Map<number, JsonRpcResponse>()
  readonly #waiting = new Map<number, () => void>()
  #buffer = ''
  #nextId = 1

  constructor (proxy: McpRemote) {
    this.#proxy = proxy
    proxy.child.stdout.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('utf8')
      let newline = this.#buffer.indexOf('\n')
      while (newline !== -1) {
        const line = this.#buffer.slice(0, newline).trim()
        this.#buffer = this.#buffer.slice(newline + 1)
        newline = this.#buffer.indexOf('\n')
        if (line === '') continue
        const message = JSON.parse(line) as Partial<JsonRpcResponse> & { method?: string }
        if (typeof message.id !== 'number' || message.method !== undefined) continue
        this.#answers.set(message.id, message as JsonRpcResponse)
        this.#waiting.get(message.id)?.()
      }
    })
  }

  notify (method: string, params?: Record<string, unknown>): void {
    this.#proxy.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }) + '\n')
  }

  async request (method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<JsonRpcResponse> {
    const id = this.#nextId++
    const answered = new Promise<JsonRpcResponse>((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiting.delete(id); reject(new Error(`no answer to ${method} (id ${id}) within ${timeoutMs} ms; mcp-remote's log:\n${this.#proxy.stderr()}`)) }, timeoutMs)
      this.#waiting.set(id, () => {
        clearTimeout(timer)
        this.#waiting.delete(id)
        resolve(this.#answers.get(id) as JsonRpcResponse)
      })
    })
    this.#proxy.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n')
    return await answered
  }

  /** `initialize` then `notifications/initialized`, as an MCP host starts a session. */
  async initialize (protocolVersion = '2025-11-25'): Promise<JsonRpcResponse> {
    const answer = await this.request('initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 'fastify-mcp-auth-test', version: '0' } })
    this.notify('notifications/initialized')
    return answer
  }
}
