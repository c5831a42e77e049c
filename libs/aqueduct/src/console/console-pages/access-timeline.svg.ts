import type { Entitlement, Provisioning } from '../../access/aqueduct-access.service';
import { html, type SafeHtml } from '../console-html';

/** Drawing sizes, in SVG user units (the picture scales to the page's width). */
const WIDTH = 960;
const LABEL_WIDTH = 190;
const RIGHT_MARGIN = 24;
const ROW_HEIGHT = 26;
const BAR_HEIGHT = 14;
const TOP = 22;
const AXIS_HEIGHT = 30;
const TICKS = 6;

/** Fixed colours: never taken from the data. */
const COLOURS = {
  paid: '#2da44e',
  grace: '#d4a72c',
  access: '#0969da',
  accessGrace: '#54aeff',
  now: '#cf222e',
  grid: '#d8dee4',
  text: '#1f2328',
  muted: '#656d76',
};

const day = (date: Date) => date.toISOString().slice(0, 10);
const instant = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * Why a customer has access to a product, or not, at a glance: one row per provisioning (its paid
 * period, then its grace period, and when its invoice was paid), the access they add up to, and
 * "now". Plain SVG with `<title>` tooltips: no script, nothing from the data but escaped text.
 */
export function accessTimelineSvg(
  entitlement: Entitlement,
  provisionings: Provisioning[],
  now: Date,
): SafeHtml {
  const instants = [
    now,
    ...provisionings.flatMap((p) => [p.startDate, p.endDate, p.accessUntil]),
    ...entitlement.timeline.flatMap((s) => [s.from, s.until]),
  ].map((d) => new Date(d).getTime());
  const [min, max] = [Math.min(...instants), Math.max(...instants)];
  const pad = Math.max((max - min) * 0.04, 3_600_000);
  const [start, end] = [min - pad, max + pad];
  const x = (date: Date | string) =>
    LABEL_WIDTH +
    ((new Date(date).getTime() - start) / (end - start)) * (WIDTH - LABEL_WIDTH - RIGHT_MARGIN);
  const rows = provisionings.length + 1;
  const height = TOP + rows * ROW_HEIGHT + AXIS_HEIGHT;
  const bottom = TOP + rows * ROW_HEIGHT;
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
      >${text.length > 28 ? `${text.slice(0, 27)}…` : text}</text
    >`;

  const provisioningRows = provisionings.map((p, index) => {
    const y = TOP + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2;
    const name = p.invoiceId ?? p.provisioningId ?? p.key;
    return html`<g class="provisioning">
      ${label(y, name)}
      ${bar(p.startDate, p.endDate, y, COLOURS.paid, `${name}: paid ${instant(new Date(p.startDate))} → ${instant(new Date(p.endDate))}`)}
      ${
        new Date(p.accessUntil).getTime() > new Date(p.endDate).getTime()
          ? bar(
              p.endDate,
              p.accessUntil,
              y,
              COLOURS.grace,
              `${name}: grace until ${instant(new Date(p.accessUntil))}`,
            )
          : null
      }
      ${
        p.paidAt
          ? html`<circle
              cx="${x(p.paidAt).toFixed(1)}"
              cy="${y + BAR_HEIGHT / 2}"
              r="4"
              fill="#fff"
              stroke="${COLOURS.text}"
              ><title>invoice paid ${instant(new Date(p.paidAt))}</title></circle
            >`
          : null
      }
    </g>`;
  });
  const accessY = TOP + provisionings.length * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2;
  const accessRow = html`<g class="access">
    <line x1="0" x2="${WIDTH}" y1="${accessY - 6}" y2="${accessY - 6}" stroke="${COLOURS.grid}" />
    ${label(accessY, 'access', true)}
    ${entitlement.timeline.map((s) =>
      bar(
        s.from,
        s.until,
        accessY,
        s.status === 'active' ? COLOURS.access : COLOURS.accessGrace,
        `access (${s.status}) ${instant(s.from)} → ${instant(s.until)}`,
      ),
    )}
  </g>`;
  const ticks = Array.from(
    { length: TICKS },
    (_, i) => new Date(start + ((end - start) * (i + 0.5)) / TICKS),
  );
  const axis = ticks.map(
    (tick) =>
      html`<line
          x1="${x(tick).toFixed(1)}"
          x2="${x(tick).toFixed(1)}"
          y1="${TOP - 6}"
          y2="${bottom}"
          stroke="${COLOURS.grid}"
          stroke-dasharray="2 3"
        />
        <text
          x="${x(tick).toFixed(1)}"
          y="${bottom + 16}"
          font-size="11"
          fill="${COLOURS.muted}"
          text-anchor="middle"
          >${day(tick)}</text
        >`,
  );
  const nowX = x(now).toFixed(1);
  const summary = `${entitlement.productId}: ${entitlement.hasAccess ? 'access' : 'no access'} now (${entitlement.status})`;
  return html`<svg
    class="access-timeline"
    viewBox="0 0 ${WIDTH} ${height}"
    role="img"
    aria-label="${summary}"
    xmlns="http://www.w3.org/2000/svg"
  >
    <title>${summary}</title>
    ${axis} ${provisioningRows} ${accessRow}
    <line
      x1="${nowX}"
      x2="${nowX}"
      y1="${TOP - 14}"
      y2="${bottom}"
      stroke="${COLOURS.now}"
      stroke-width="2"
    />
    <text x="${nowX}" y="${TOP - 16}" font-size="11" fill="${COLOURS.now}" text-anchor="middle">
      now
    </text>
  </svg>`;
}
