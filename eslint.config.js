// The Fastify ecosystem's style (neostandard: standard, for TypeScript too), over everything git
// tracks; build output and test fixtures written by tap are left out.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'bench/results/**']
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run (TypeScript's no-floating-promises idiom).
      'no-void': ['error', { allowAsStatement: true }],
      // `${NAME}` in a string is this project's config interpolation syntax, written on purpose.
      'no-template-curly-in-string': 'off'
    }
  }
]
