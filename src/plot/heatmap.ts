import { writeVegaLite } from './lineChart.js';

/**
 * Options of {@link writeHeatmap}.
 */
export interface HeatmapOptions {
  /** Row labels (top to bottom) and column labels (left to right). */
  rows: readonly string[];
  cols: readonly string[];
  /** `values[r][c]`. */
  values: readonly (readonly number[])[];
  /** Decimals of the numbers written in the cells. */
  decimals?: number;
  rowTitle: string;
  colTitle: string;
  title?: string;
  file: string;
}

/**
 * A heatmap with each cell's value written in it (white on dark cells, black on
 * light ones, as fastai's confusion matrix), via vega-lite; returns the file.
 *
 * @param opts - Labels, values, titles and the file.
 *
 * @example
 * ```ts
 * await writeHeatmap({ rows: ['a', 'b'], cols: ['a', 'b'], values: [[5, 1], [2, 7]], rowTitle: 'Actual', colTitle: 'Predicted', file: 'cm.png' });
 * ```
 */
export async function writeHeatmap(opts: HeatmapOptions): Promise<string> {
  const { rows, cols, values, decimals = 0, rowTitle, colTitle, title, file } = opts;
  const data = rows.flatMap((r, i) => cols.map((c, j) => ({ row: r, col: c, value: values[i]![j]! })));
  const max = Math.max(...data.map((d) => d.value));
  const cell = Math.max(36, Math.min(90, Math.floor(480 / Math.max(rows.length, cols.length))));
  const x = { field: 'col', type: 'ordinal', sort: [...cols], title: colTitle, axis: { labelAngle: cols.some((c) => c.length > 6) ? -45 : 0, labelFontSize: 12, titleFontSize: 13 } };
  const y = { field: 'row', type: 'ordinal', sort: [...rows], title: rowTitle, axis: { labelFontSize: 12, titleFontSize: 13 } };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    ...(title ? { title: { text: title, fontSize: 15 } } : {}),
    width: cell * cols.length,
    height: cell * rows.length,
    data: { values: data },
    encoding: { x, y },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'value', type: 'quantitative', scale: { scheme: 'blues', domainMin: 0 }, legend: null } } },
      {
        mark: { type: 'text', fontSize: Math.min(16, cell / 3) },
        encoding: {
          text: { field: 'value', type: 'quantitative', format: `.${decimals}f` },
          color: { condition: { test: `datum.value > ${max / 2}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
  return writeVegaLite(spec, file);
}
