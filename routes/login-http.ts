import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sha256 } from '../plugins/credentials/compare.js'

// The HTTP mechanics of the login flow: its cookie, its CSRF checks, its redirects.

export interface CookieSettings {
  /** `Secure` and the `__Host-` prefix, when the public URL is https. */
  secure: boolean
  /** Seconds. */
  maxAge: number
}

export const cookieName = (secure: boolean): string => secure ? '__Host-mcp_login' : 'mcp_login'

/** The session id from the login cookie, if the request has one (cookies read by @fastify/cookie). */
export function sessionIdOf (request: FastifyRequest, secure: boolean): string | undefined {
  const id = request.cookies[cookieName(secure)]
  return id === undefined || id === '' ? undefined : id
}

export function setSessionCookie (reply: FastifyReply, id: string, settings: CookieSettings): FastifyReply {
  return reply.setCookie(cookieName(settings.secure), id, { path: '/', httpOnly: true, sameSite: 'lax', maxAge: settings.maxAge, secure: settings.secure })
}

/** Ends the cookie (Max-Age=0) with the attributes it was set with, as the __Host- prefix requires. */
export function clearSessionCookie (reply: FastifyReply, secure: boolean): FastifyReply {
  return reply.clearCookie(cookieName(secure), { path: '/', httpOnly: true, sameSite: 'lax', secure })
}

/** Constant-time equality of two strings of any length (both hashed first). */
export function sameSecret (a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b))
}

/**
 * Whether a form POST came from this server's own pages, as far as the browser says: Fetch
 * Metadata when sent, else the Origin header. A client that sends neither (not a browser) is
 * judged by the CSRF token alone.
 */
export function sameOriginPost (request: FastifyRequest, origin: string): boolean {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return false
  const from = request.headers.origin
  return from === undefined || from === origin
}

/** An authorization response (RFC 6749 §4.1.2): `redirectUri` with `params` and RFC 9207's `iss` added to its query. */
export function authorizationResponse (redirectUri: string, params: Record<string, string | undefined>, issuer: string): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value)
  url.searchParams.set('iss', issuer)
  return url.href
}

/** The form fields of a parsed urlencoded body: a value, several, or none. */
export function formValues (body: unknown, name: string): string[] {
  const fields = typeof body === 'object' && body !== null ? body as Record<string, unknown> : {}
  const value = fields[name]
  const list = Array.isArray(value) ? value : [value]
  return list.filter((item): item is string => typeof item === 'string')
}

/** One form field given once, else undefined. */
export function formValue (body: unknown, name: string): string | undefined {
  const values = formValues(body, name)
  return values.length === 1 ? values[0] : undefined
}
