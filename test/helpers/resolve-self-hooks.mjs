const INDEX = new URL('../../index.ts', import.meta.url).href

export async function resolve (specifier, context, next) {
  if (specifier === 'fastify-mcp-auth') return { url: INDEX, shortCircuit: true }
  return await next(specifier, context)
}
