/** Fetching the server's JSON, typed by api-types.ts (the server builds the same types). */
export async function getJson<T>(path: string, query: Record<string, string> = {}): Promise<T> {
  const qs = new URLSearchParams(query).toString();
  const response = await fetch(qs ? `${path}?${qs}` : path);
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    throw new Error(body.error ?? `${path}: HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

export function fileUrl(key: string, name: string, inline = false): string {
  return `/api/file?${new URLSearchParams({ key, name, ...(inline ? { inline: '1' } : {}) }).toString()}`;
}
