/** What `npm start` prints once when it had to generate the API key for this run. */
export function generatedKeyBanner (mcpUrl: string, header: string, key: string): string {
  const call = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":5,"b":3}}}'
  const mcpJson = JSON.stringify({ mcpServers: { calculator: { url: mcpUrl, headers: { [header]: key } } } }, null, 2)
  return [
    '',
    'CALCULATOR_API_KEY is not set, so this run uses a generated API key (it stops working when the server stops):',
    '',
    `  ${key}`,
    '',
    `MCP endpoint: ${mcpUrl}  (send the key in the ${header} header)`,
    '',
    'MCP Inspector CLI:',
    `  npx @modelcontextprotocol/inspector --cli ${mcpUrl} --transport http --header "${header}: ${key}" --method tools/call --tool-name add --tool-arg a=5 --tool-arg b=3`,
    '',
    'curl:',
    `  curl -s ${mcpUrl} -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H '${header}: ${key}' -d '${call}'`,
    '',
    'mcp.json (Kiro, Cursor and other clients that take a url and headers):',
    ...mcpJson.split('\n').map((line) => `  ${line}`),
    '',
    'To keep one key across restarts: export CALCULATOR_API_KEY="$(npx fastify-mcp-auth gen-key | head -n 1)"',
    ''
  ].join('\n')
}
