import { html, type SafeHtml } from '../console-html';

/**
 * `2025-11-22 10:15:03 UTC` in a `<time>` carrying the exact instant: one zone for every
 * operator, whatever the server's, and a machine-readable value for tools (and tests).
 */
export function timeOf(value: Date | string | null | undefined): SafeHtml | string {
  if (value === null || value === undefined) {
    return '—';
  }
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

export function between(start: Date | string | null, end: Date | string | null): number | null {
  return start && end ? new Date(end).getTime() - new Date(start).getTime() : null;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'idle';

const TONES: Record<string, Tone> = {
  // deliveries
  done: 'ok',
  pending: 'warn',
  active: 'info',
  dead: 'bad',
  // attempts (done and dead as above)
  failed: 'bad',
  abandoned: 'warn',
  released: 'idle',
  // events
  accepted: 'ok',
  quarantined: 'bad',
  dismissed: 'idle',
  // entitlements
  scheduled: 'info',
  grace: 'warn',
  expired: 'idle',
};

export const toneOf = (state: string): Tone => TONES[state] ?? 'idle';

/** A coloured label; the colour comes from a fixed list, never from the data. */
export function badge(label: string, tone: Tone = toneOf(label)): SafeHtml {
  return html`<span class="badge b-${tone}">${label}</span>`;
}
