import type { BenchReport, ResultRow, SummaryLine, TextTable } from './benchmark';

const COLUMNS: { header: string; value(row: ResultRow): string }[] = [
  { header: 'route', value: (row) => row.route },
  { header: 'req/s (avg)', value: (row) => row.result.requestsPerSecond.toFixed(0) },
  { header: 'p50 ms', value: (row) => row.result.p50Ms.toFixed(1) },
  { header: 'p99 ms', value: (row) => row.result.p99Ms.toFixed(1) },
  { header: 'non-2xx', value: (row) => String(row.result.non2xx) },
  { header: 'errors', value: (row) => String(row.result.errors) },
  {
    header: '% of bare',
    value: (row) =>
      row.percentOfBaseline === undefined ? '' : `${row.percentOfBaseline.toFixed(1)} %`,
  },
];

/** A plain-text table (readable in a terminal and in CI logs), then notes and warnings. */
export function formatReport(report: BenchReport): string {
  const loadTable: TextTable = {
    header: COLUMNS.map((column) => column.header),
    rows: report.rows.map((row) => COLUMNS.map((column) => column.value(row))),
  };
  return [
    '',
    `== ${report.title}`,
    // A benchmark without load runs (e.g. sweep) has only its own tables.
    ...(report.rows.length > 0 ? formatTable(loadTable) : []),
    ...(report.tables ?? []).flatMap((table, i) =>
      i === 0 && report.rows.length === 0 ? formatTable(table) : ['', ...formatTable(table)],
    ),
    '',
    ...report.notes.map((note) => `  ${note}`),
    ...report.warnings.map((warning) => `WARNING: ${warning}`),
    '',
  ].join('\n');
}

/** The one table `npm run bench` ends with: each benchmark's headline figures against its target. */
export function formatSummary(lines: SummaryLine[]): string {
  const table: TextTable = {
    header: ['summary', 'value', 'target', 'met'],
    rows: lines.map((line) => [
      line.metric,
      line.value,
      line.target ?? '',
      line.met === undefined ? '' : line.met ? 'yes' : 'NO',
    ]),
  };
  return ['', '== summary', ...formatTable(table), ''].join('\n');
}

function formatTable(table: TextTable): string[] {
  const cells = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  // The first column (what the row is) reads best left-aligned, numbers right-aligned.
  const render = (line: string[]) =>
    line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(cells[0]), rule, ...cells.slice(1).map(render)];
}
