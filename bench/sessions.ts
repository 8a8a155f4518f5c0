const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

/**
 * Opens a stateful session the way a client does: initialize, then notifications/initialized.
 * Returns the headers that carry the session.
 */
export async function openSession (url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } } })
  })
  await response.arrayBuffer()
  const id = response.headers.get('mcp-session-id')
  if (!response.ok || id === null) throw new Error(`initialize failed with ${response.status}`)
  const session = { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' }
  const initialized = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...session }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
  await initialized.arrayBuffer()
  if (initialized.status !== 202) throw new Error(`notifications/initialized got ${initialized.status}`)
  return session
}

/** Opens `count` sessions, `concurrency` at a time; resolves once every one is confirmed open. */
export async function openSessions (url: string, headers: Record<string, string>, count: number, concurrency = 16): Promise<void> {
  let opened = 0
  const worker = async (): Promise<void> => {
    while (opened < count) {
      opened++
      await openSession(url, headers)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
