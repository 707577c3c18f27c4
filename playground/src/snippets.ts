/**
 * "Copy as": the same request as code for curl, runpod-sdk (JS, github.com/runpod/js-sdk: `runpodSdk(key,
 * {baseUrl}).endpoint(id).runSync(request)`) and runpod-python (`runpod.endpoint_url_base`, `runpod.Endpoint(id)
 * .run_sync(input)`, runpod-python runpod/__init__.py and runpod/endpoint/runner.py).
 */

/** The languages offered. */
export type SnippetKind = 'curl' | 'js' | 'python';

/** Where the snippet sends the request. */
export interface SnippetTarget {
  /** `http://host:port` of the endpoint. */
  origin: string;
  endpointId: string;
  /** Whether the endpoint needs a key: the snippet then reads it from `$RUNPOD_API_KEY`. */
  apiKeyRequired: boolean;
}

/** `s` inside single quotes for a POSIX shell. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A JSON value as a Python literal (`true` → `True`, `null` → `None`), indented by `indent` spaces per level. */
export function toPython(value: unknown, indent = 4, depth = 0): string {
  const pad = ' '.repeat(indent * (depth + 1));
  const end = ' '.repeat(indent * depth);
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'None';
  // JSON string escapes are valid Python string escapes (\uXXXX included).
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + toPython(v, indent, depth + 1)).join(',\n')},\n${end}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${toPython(v, indent, depth + 1)}`).join(',\n')},\n${end}}`;
}

/** The request as a `/runsync` call in `kind`. */
export function snippet(kind: SnippetKind, request: { input: unknown }, t: SnippetTarget): string {
  const base = `${t.origin}/v2`;
  if (kind === 'curl') {
    return [
      `curl -X POST ${base}/${t.endpointId}/runsync \\`,
      `  -H 'Content-Type: application/json' \\`,
      ...(t.apiKeyRequired ? [`  -H "Authorization: Bearer $RUNPOD_API_KEY" \\`] : []),
      `  -d ${shellQuote(JSON.stringify(request, null, 2))}`,
    ].join('\n');
  }
  const key = t.apiKeyRequired ? 'RUNPOD_API_KEY' : 'RUNPOD_API_KEY (any value: the local endpoint has no key)';
  if (kind === 'js') {
    return [
      `// npm install runpod-sdk; key: ${key}`,
      `import runpodSdk from 'runpod-sdk';`,
      ``,
      `const runpod = runpodSdk(process.env.RUNPOD_API_KEY ?? 'local', { baseUrl: ${JSON.stringify(base)} });`,
      `const endpoint = runpod.endpoint(${JSON.stringify(t.endpointId)});`,
      `const result = await endpoint.runSync(${JSON.stringify(request, null, 2)});`,
      `console.log(result.status, result.output ?? result.error);`,
    ].join('\n');
  }
  return [
    `# pip install runpod; key: ${key}`,
    `import os`,
    `import runpod`,
    ``,
    `runpod.api_key = os.environ.get("RUNPOD_API_KEY", "local")`,
    `runpod.endpoint_url_base = ${JSON.stringify(base)}`,
    `endpoint = runpod.Endpoint(${JSON.stringify(t.endpointId)})`,
    `output = endpoint.run_sync(${toPython(request)}, timeout=600)`,
    `print(output)`,
  ].join('\n');
}

/** `text` with every string longer than `max` characters (base64 images) cut to its start and its length. */
export function abbreviate(text: string, max = 120): string {
  return text.replace(/"([A-Za-z0-9+/=]{120,})"/g, (_m, s: string) => (s.length > max ? `"${s.slice(0, 40)}…(${s.length} characters)"` : `"${s}"`));
}
