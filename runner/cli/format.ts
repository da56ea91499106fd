/** Small text formatting helpers shared by the CLI renderers. */

export function seconds(value: number): string {
  if (value < 10) return `${value.toFixed(2)}s`;
  if (value < 120) return `${value.toFixed(1)}s`;
  return `${Math.floor(value / 60)}m${String(Math.round(value % 60)).padStart(2, '0')}s`;
}

export function bytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function age(fromIso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(fromIso)) / 1000);
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** Left-aligned table; a table wider than `width` is printed as `key: value` blocks instead of truncated. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], width = process.stdout.columns ?? 120): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const total = widths.reduce((a, b) => a + b + 2, 0);
  if (total > width && headers.length > 2) {
    const keyWidth = Math.max(...headers.map((h) => h.length));
    return rows.map((r) => headers.map((h, i) => `${h.padEnd(keyWidth)}  ${r[i] ?? ''}`).join('\n')).join('\n\n');
  }
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
