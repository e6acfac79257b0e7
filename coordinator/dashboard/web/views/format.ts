/** Display formatting; `–` stands for "not reported". */

export function bytes(n: number | null | undefined): string {
  if (n == null) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function duration(s: number | null | undefined): string {
  if (s == null) return '–';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function ago(ts: number | null | undefined, now: number): string {
  if (ts == null) return 'never';
  const s = Math.max(0, (now - ts) / 1000);
  return s < 2 ? 'just now' : `${duration(s)} ago`;
}

export function clock(ts: number | null | undefined): string {
  return ts == null ? '–' : new Date(ts).toLocaleTimeString();
}

export function dateTime(ts: number | null | undefined): string {
  return ts == null ? '–' : new Date(ts).toLocaleString();
}

export function num(n: number | null | undefined, digits = 2): string {
  return n == null ? '–' : n.toFixed(digits);
}
