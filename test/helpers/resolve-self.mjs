// `node --import ./test/helpers/resolve-self.mjs`: `import … from 'fastify-mcp-auth'` (the examples,
// the documentation's programs) loads this checkout's sources instead of a build in dist/, which
// may be missing or stale. Used with tap's TypeScript loader, which compiles them.
import { register } from 'node:module'

register('./resolve-self-hooks.mjs', import.meta.url)
