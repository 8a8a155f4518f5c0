/** Parses one WWW-Authenticate challenge (`Scheme k="v", k2=v2`) into its scheme and auth-params. */
export function parseChallenge (header: string | null): { scheme: string, params: Record<string, string> } {
  if (header === null) throw new Error('no WWW-Authenticate header')
  const match = /^(\S+)\s*(.*)$/.exec(header)
  const params: Record<string, string> = {}
  const pattern = /([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*(?:,\s*|$)/y
  const rest = match?.[2] ?? ''
  let found: RegExpExecArray | null
  while ((found = pattern.exec(rest)) !== null) {
    params[found[1] as string] = found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : found[3] as string
  }
  if (pattern.lastIndex !== 0 && pattern.lastIndex < rest.length) throw new Error(`unparsed challenge: ${header}`)
  return { scheme: match?.[1] ?? '', params }
}
