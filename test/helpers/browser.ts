import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'
import { whenAvailable } from './external.js'

/**
 * A real headless browser for the OAuth login and consent pages: Debian's `chromium`, driven by
 * playwright-core (which never downloads a browser of its own). `.ci/run` installs the package.
 */
export const CHROMIUM_HOW_TO = 'install Debian\'s chromium (apt-get install chromium) or set CHROMIUM_PATH'

/** CHROMIUM_PATH when set (it must exist), else Debian's /usr/bin/chromium when installed. */
export function chromiumPath (): string | undefined {
  const configured = process.env.CHROMIUM_PATH
  const path = configured === undefined || configured === '' ? '/usr/bin/chromium' : configured
  return existsSync(path) ? path : undefined
}

/**
 * Headless; as root Chromium's sandbox cannot start, and playwright's default (`chromiumSandbox:
 * false`) passes `--no-sandbox`, which is what a CI container needs.
 */
export async function launchChromium (executablePath = chromiumPath()): Promise<Browser> {
  if (executablePath === undefined) throw new Error(`no chromium: ${CHROMIUM_HOW_TO}`)
  return await chromium.launch({ executablePath, headless: true })
}

/** Where tests save screenshots: under .tap/ (git-ignored), never in the working tree proper. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../.tap/screenshots/', import.meta.url))

export interface BrowserSession {
  /** A page in a fresh context (no cookies from other flows), closed when the test ends. */
  newPage: () => Promise<Page>
  /** Saves a full-page PNG as `.tap/screenshots/<name>.png` and returns its path. */
  screenshot: (page: Page, name: string) => Promise<string>
  version: string
}

let shared: Promise<Browser> | undefined

/**
 * A test that needs Chromium; skipped with one line saying how to get it when there is none (a
 * failure when MCP_AUTH_TEST_REQUIRE names `browser`). One browser per test file, launched on
 * first use and closed when `t` (the file's root) ends: a launch costs about a second.
 */
export function browserTest (file: Test, name: string, fn: (t: Test, browser: BrowserSession) => Promise<void>): void {
  whenAvailable(file, 'browser', chromiumPath() !== undefined, name, CHROMIUM_HOW_TO, async (t) => {
    if (shared === undefined) {
      const launched = launchChromium()
      shared = launched
      file.teardown(async () => { await (await launched).close() })
    }
    const browser = await shared
    await fn(t, {
      version: browser.version(),
      newPage: async () => {
        const context = await browser.newContext()
        t.teardown(async () => { await context.close() })
        return await context.newPage()
      },
      screenshot: async (page, name) => await savePng(page, join(SCREENSHOT_DIR, `${name}.png`))
    })
  })
}

export async function savePng (page: Page, path: string): Promise<string> {
  mkdirSync(join(path, '..'), { recursive: true })
  await page.screenshot({ path, fullPage: true })
  return path
}

// The pages' HTML contract (routes of the built-in authorization server): labelled inputs and
// named buttons, so these helpers find them the way a person (or a screen reader) does.

export interface Credentials {
  username: string
  password: string
}

/** Fills and submits the login page that `page` shows. */
export async function signIn (page: Page, { username, password }: Credentials): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** The scopes the consent page offers (one checkbox per requested scope, labelled with it). */
export async function offeredScopes (page: Page): Promise<string[]> {
  return await page.locator('input[type="checkbox"][name="scope"]').evaluateAll((boxes) => boxes.map((box) => box.getAttribute('value') ?? ''))
}

/** Answers the consent page: unchecks `withhold` (scopes not to grant), then Allow or Deny. */
export async function consent (page: Page, { decision = 'Allow', withhold = [] }: { decision?: 'Allow' | 'Deny', withhold?: readonly string[] } = {}): Promise<void> {
  for (const scope of withhold) await page.getByLabel(scope, { exact: true }).uncheck()
  await page.getByRole('button', { name: decision, exact: true }).click()
}

export interface LoginFlow extends Credentials {
  /** Scopes to uncheck on the consent page. */
  withhold?: readonly string[]
  /** The consent button to press (Allow by default). */
  decision?: 'Allow' | 'Deny'
  /** Called with the page on the login page, and again on the consent page (for screenshots). */
  onPage?: (page: Page, which: 'login' | 'consent') => Promise<void>
  /** Where the flow ends: the client's redirect URI (its own callback server answers it). */
  callback: RegExp
  timeoutMs?: number
}

/**
 * What a person does after a client opens the authorization URL: sign in, answer the consent page,
 * and land on the client's callback (its own server answers it). Resolves with the scopes the
 * consent page offered and the callback URL (code or error, state, iss).
 */
export async function logInAndConsent (page: Page, authorizeUrl: string, flow: LoginFlow): Promise<{ offered: string[], callbackUrl: URL }> {
  const timeout = flow.timeoutMs ?? 30_000
  page.setDefaultTimeout(timeout)
  await page.goto(authorizeUrl)
  await page.getByRole('button', { name: 'Sign in' }).waitFor()
  await flow.onPage?.(page, 'login')
  await signIn(page, flow)
  await page.getByRole('button', { name: 'Allow', exact: true }).waitFor()
  const offered = await offeredScopes(page)
  await flow.onPage?.(page, 'consent')
  await consent(page, { decision: flow.decision ?? 'Allow', withhold: flow.withhold ?? [] })
  await page.waitForURL(flow.callback, { timeout, waitUntil: 'commit' })
  return { offered, callbackUrl: new URL(page.url()) }
}
