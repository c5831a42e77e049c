import type { Entitlement, Provisioning } from '../../access/aqueduct-access.service';
import { html } from '../console-html';

/** Drawing sizes, in SVG user units (the picture scales to the page's width). */
export const WIDTH = 960;
const LABEL_WIDTH = 190;
const RIGHT_MARGIN = 24;
export const ROW_HEIGHT = 26;
export const BAR_HEIGHT = 14;
export const TOP = 22;
export const AXIS_HEIGHT = 30;

/** Fixed colours: never taken from the data. */
export const COLOURS = {
  paid: '#2da44e',
  grace: '#d4a72c',
  access: '#0969da',
  accessGrace: '#54aeff',
  now: '#cf222e',
  grid: '#d8dee4',
  text: '#1f2328',
  muted: '#656d76',
};

/** Room left before the first instant and after the last: this share of the span... */
const PAD_SHARE = 0.04;
/** ...and at least an hour, so a single instant still has a visible span. */
const MIN_PAD_MS = 3_600_000;

/** Labels longer than this are cut, with an ellipsis. */
const LABEL_MAX_LENGTH = 28;

/** The time the picture spans (every instant shown, padded), and where a moment falls on it. */
export interface TimeScale {
  start: number;
  end: number;
  x: (date: Date | string) => number;
}

/** The scale that shows `now` and every date of the entitlement and its provisionings. */
export function timeScale(
  entitlement: Entitlement,
  provisionings: Provisioning[],
  now: Date,
): TimeScale {
  const instants = [
    now,
    ...provisionings.flatMap((p) => [p.startDate, p.endDate, p.accessUntil]),
    ...entitlement.timeline.flatMap((s) => [s.from, s.until]),
  ].map((d) => new Date(d).getTime());
  const [min, max] = [Math.min(...instants), Math.max(...instants)];
  const pad = Math.max((max - min) * PAD_SHARE, MIN_PAD_MS);
  const [start, end] = [min - pad, max + pad];
  const x = (date: Date | string) =>
    LABEL_WIDTH +
    ((new Date(date).getTime() - start) / (end - start)) * (WIDTH - LABEL_WIDTH - RIGHT_MARGIN);
  return { start, end, x };
}

/** What the rows are drawn with: a bar between two moments, a row's label. */
export type Pen = ReturnType<typeof pen>;

export function pen(x: TimeScale['x']) {
  const bar = (from: Date, until: Date, y: number, colour: string, title: string) =>
    html`<rect
      x="${x(from).toFixed(1)}"
      y="${y}"
      width="${Math.max(1, x(until) - x(from)).toFixed(1)}"
      height="${BAR_HEIGHT}"
      rx="2"
      fill="${colour}"
      ><title>${title}</title></rect
    >`;
  const label = (y: number, text: string, strong = false) =>
    html`<text
      x="8"
      y="${y + BAR_HEIGHT - 3}"
      font-size="12"
      fill="${strong ? COLOURS.text : COLOURS.muted}"
      font-weight="${strong ? '600' : '400'}"
      >${text.length > LABEL_MAX_LENGTH ? `${text.slice(0, LABEL_MAX_LENGTH - 1)}…` : text}</text
    >`;
  return { x, bar, label };
}
