import type { Entitlement, Provisioning } from '../../access/aqueduct-access.service';
import { html, type SafeHtml } from '../console-html';
import {
  AXIS_HEIGHT,
  BAR_HEIGHT,
  COLOURS,
  pen,
  type Pen,
  ROW_HEIGHT,
  TOP,
  type TimeScale,
  timeScale,
  WIDTH,
} from './access-timeline.pen';

/** Dates written along the axis. */
const TICKS = 6;

const day = (date: Date) => date.toISOString().slice(0, 10);
const instant = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The top of the bars of row `index`, centred in the row. */
const rowY = (index: number) => TOP + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2;

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
  const scale = timeScale(entitlement, provisionings, now);
  const drawing = pen(scale.x);
  const rows = provisionings.length + 1;
  const height = TOP + rows * ROW_HEIGHT + AXIS_HEIGHT;
  const bottom = TOP + rows * ROW_HEIGHT;
  const provisioningRows = provisioningRowsOf(provisionings, drawing);
  const accessRow = accessRowOf(entitlement, rowY(provisionings.length), drawing);
  const axis = axisOf(scale, bottom);
  const nowX = scale.x(now).toFixed(1);
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

/** A row per provisioning: its paid period, its grace period if any, when its invoice was paid. */
function provisioningRowsOf(provisionings: Provisioning[], { x, bar, label }: Pen): SafeHtml[] {
  return provisionings.map((p, index) => {
    const y = rowY(index);
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
}

/** The access the provisionings add up to, under a rule: active, then grace. */
function accessRowOf(entitlement: Entitlement, accessY: number, { bar, label }: Pen): SafeHtml {
  return html`<g class="access">
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
}

/** Dashed lines at evenly spaced moments, each with its date under the rows. */
function axisOf({ start, end, x }: TimeScale, bottom: number): SafeHtml[] {
  const ticks = Array.from(
    { length: TICKS },
    (_, i) => new Date(start + ((end - start) * (i + 0.5)) / TICKS),
  );
  return ticks.map(
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
}
