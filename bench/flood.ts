import type { BenchConfigs, Strategy } from './configs.js'
import type { Flood, LoadTool } from './load.js'
import { loadSpec, mcpScenario, measure, type Measurement, type Scenario, type Shape } from './scenarios.js'

export interface FloodRun {
  strategy: Strategy
  what: string
  alone: Measurement
  /** The valid client's runs, one per round, each beside a flood. */
  valid: Measurement[]
  floods: Measurement[]
}

/** Wrong credentials for the strategy, different on every request. */
function floodFor (strategy: Strategy, scenario: Scenario): { flood: Flood, what: string } {
  switch (strategy) {
    case 'api-key': return { flood: { header: 'x-api-key', prefix: 'wrong-', length: 40 }, what: 'wrong API keys' }
    case 'bearer': return { flood: { header: 'authorization', prefix: 'Bearer wrong-', length: 40 }, what: 'wrong bearer tokens' }
    case 'basic': return { flood: { user: 'alice' }, what: 'wrong passwords for a real user' }
    default: {
      // The valid token's header and claims with a random signature: parsed, then refused by the key.
      const token = scenario.headers.authorization ?? ''
      return { flood: { header: 'authorization', prefix: token.slice(0, token.lastIndexOf('.') + 1), length: 43 }, what: 'JWTs with a bad signature' }
    }
  }
}

/**
 * A valid client on 8 connections while 32 connections send wrong credentials. The flood and the
 * valid client share 127.0.0.1, so the per-address failed-auth throttle (which would stop a real
 * flood after 10 attempts) is off: this measures what checking and refusing the flood costs.
 */
export async function floodRun (tool: LoadTool, configs: BenchConfigs, strategy: Strategy, shape: Shape): Promise<FloodRun> {
  const scenario = await mcpScenario(configs, strategy, 'stateless', { edit: (doc) => { doc.rateLimit = { ...doc.rateLimit, failedAuth: false } } })
  const { flood, what } = floodFor(strategy, scenario)
  try {
    await measure(tool, scenario, loadSpec(scenario, 8, shape.warm))
    const alone = await measure(tool, scenario, loadSpec(scenario, 8, shape.duration))
    const valid: Measurement[] = []
    const floods: Measurement[] = []
    for (let round = 0; round < shape.rounds; round++) {
      const [client, attack] = await Promise.all([
        measure(tool, scenario, loadSpec(scenario, 8, shape.duration)),
        measure(tool, scenario, loadSpec(scenario, 32, shape.duration, { headers: {}, flood }))
      ])
      valid.push(client)
      floods.push(attack)
    }
    return { strategy, what, alone, valid, floods }
  } finally {
    await scenario.server.stop()
  }
}
