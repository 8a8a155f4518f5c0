import { decodeHeaderValue } from './header-values.js'

/** One tool parameter mirrored into an `Mcp-Param-{Name}` header (SEP-2243 `x-mcp-header`). */
export interface ParamHeaderRule {
  /** The header's name, lower case: `mcp-param-region`. */
  header: string
  /** The chain of `properties` keys that leads to the parameter. */
  path: readonly string[]
  type: 'string' | 'integer' | 'boolean'
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The `x-mcp-header` annotations of a tool's input schema, found (as the spec allows them) only
 * through chains of `properties` keys. Annotations the spec does not allow are ignored here:
 * conforming clients drop such tools from their lists altogether.
 */
export function paramHeaderRules (inputSchema: unknown): ParamHeaderRule[] {
  const rules: ParamHeaderRule[] = []
  const visit = (schema: unknown, path: string[]): void => {
    if (!isObject(schema) || !isObject(schema.properties)) return
    for (const [key, property] of Object.entries(schema.properties)) {
      if (!isObject(property)) continue
      const name = property['x-mcp-header']
      const type = property.type
      if (typeof name === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) && (type === 'string' || type === 'integer' || type === 'boolean')) {
        rules.push({ header: `mcp-param-${name.toLowerCase()}`, path: [...path, key], type })
      }
      visit(property, [...path, key])
    }
  }
  visit(inputSchema, [])
  return rules
}

function valueAt (root: unknown, path: readonly string[]): unknown {
  let node = root
  for (const key of path) {
    if (!isObject(node)) return undefined
    node = node[key]
  }
  return node
}

function sameValue (header: string, body: unknown, type: ParamHeaderRule['type']): boolean {
  if (type === 'integer') return typeof body === 'number' && header.trim() !== '' && Number(header) === body
  if (type === 'boolean') return typeof body === 'boolean' && header === String(body)
  return header === body
}

/**
 * The first header that does not mirror the call's arguments, as a message for a -32020 error;
 * undefined when every annotated parameter present in the body has a matching header.
 */
export function paramHeaderMismatch (rules: readonly ParamHeaderRule[], args: unknown, headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  for (const rule of rules) {
    const value = valueAt(args, rule.path)
    if (value === undefined || value === null) continue
    const raw = headers[rule.header]
    if (raw === undefined) return `the body carries arguments.${rule.path.join('.')} but the required ${rule.header} header is absent`
    if (typeof raw !== 'string') return `the ${rule.header} header is sent more than once`
    const decoded = decodeHeaderValue(raw)
    if (decoded === undefined) return `the ${rule.header} header carries an invalid Base64 value`
    if (!sameValue(decoded, value, rule.type)) return `the ${rule.header} header does not match arguments.${rule.path.join('.')}`
  }
  return undefined
}
