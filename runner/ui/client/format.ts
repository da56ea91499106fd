/** Number, size and time formatting for the page's tables. */
export function bytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i] ?? ''}`;
}

export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function num(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'number') return JSON.stringify(value) ?? '';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** A param or metric value as the page shows it: JSON, as `pipe show --json` prints it. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}
