import t from 'tap'
import Fastify from 'fastify'
import { addAuthHook } from '../../plugins/auth/hook.js'
import { invalid, type Authenticator } from '../../core/authenticator.js'

function brokenChallenge (answer: 'sync' | 'async'): Authenticator {
  return {
    strategy: 'custom',
    authenticate: () => answer === 'sync' ? invalid : Promise.resolve(invalid),
    challenge: () => { throw new Error('challenge bug') }
  }
}

t.test('an authenticator that throws while its failure is recorded fails the request (500), never the process', async (t) => {
  for (const answer of ['sync', 'async'] as const) {
    const app = Fastify()
    t.teardown(async () => { await app.close() })
    await app.register(async (scope) => {
      addAuthHook(scope, [brokenChallenge(answer)])
      scope.get('/', async () => 'reached')
    })
    const response = await app.inject({ method: 'GET', url: '/', headers: { authorization: 'Bearer x' } })
    t.equal(response.statusCode, 500, answer)
    t.notMatch(response.body, /reached/, `${answer}: the route never runs`)
  }
})
