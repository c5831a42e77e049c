/** A date as ISO 8601, or '' for none. */
export const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : '');

export const yesNo = (value: boolean) => (value ? 'yes' : 'no');

/** Label/value lines, the values aligned. */
export const pairs = (rows: [string, string][]) => {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value || '-'}`).join('\n');
};

/** Every line of `text` indented by `spaces`. */
export const indent = (text: string, spaces: number) =>
  text
    .split('\n')
    .map((line) => `${' '.repeat(spaces)}${line}`)
    .join('\n');
