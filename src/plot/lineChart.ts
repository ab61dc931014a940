import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomicWrite.js';
import { FastvisionError } from '../core/errors.js';

/** One line of a chart. */
export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
}

/** A marked point (e.g. an LR-finder suggestion). */
export interface MarkedPoint {
  name: string;
  x: number;
  y: number;
}

/**
 * One chart: its lines, marked points, axis titles and size.
 */
export interface ChartSpec {
  series: Series[];
  points?: MarkedPoint[];
  xTitle: string;
  yTitle: string;
  title?: string;
  /** Log-scale x axis (learning rates). */
  xLog?: boolean;
  width?: number;
  height?: number;
}

/**
 * Options of {@link writeLineChart}: one chart and its file.
 */
export interface LineChartOptions extends ChartSpec {
  /** `.png` (default) or `.svg`. */
  file: string;
}

/**
 * Draws lines (and marked points) with vega-lite, rendered headless to SVG by vega
 * and rasterised by sharp; writes the file atomically and returns its path.
 *
 * @param opts - The chart and the file to write.
 *
 * @example
 * ```ts
 * await writeLineChart({ series: [{ name: 'loss', x: [1, 2, 3], y: [0.9, 0.5, 0.4] }], xTitle: 'epoch', yTitle: 'loss', file: 'loss.png' });
 * ```
 */
export async function writeLineChart(opts: LineChartOptions): Promise<string> {
  return writeVegaLite({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...lineChartSpec(opts) }, opts.file);
}

/**
 * Several charts side by side in one picture (e.g. lr and momentum schedules).
 *
 * @param charts - The charts, left to right.
 * @param file - `.png` or `.svg`.
 *
 * @example
 * ```ts
 * await writeLineCharts([lrChart, momChart], 'sched.png');
 * ```
 */
export async function writeLineCharts(charts: ChartSpec[], file: string): Promise<string> {
  return writeVegaLite({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', hconcat: charts.map(lineChartSpec), resolve: { scale: { color: 'independent', shape: 'independent' } } }, file);
}

function lineChartSpec(opts: ChartSpec): object {
  const { series, points = [], xTitle, yTitle, title, xLog = false, width = 520, height = 320 } = opts;
  const values = series.flatMap((s) => s.x.map((x, i) => ({ series: s.name, x, y: s.y[i]! })).filter((d) => Number.isFinite(d.y) && Number.isFinite(d.x)));
  if (values.length === 0) throw new FastvisionError('BAD_OPTION', `fastvision: nothing to plot${title ? ` in '${title}'` : ''}`);
  const xs = values.map((d) => d.x);
  const x = {
    field: 'x',
    type: 'quantitative',
    title: xTitle,
    scale: xLog ? { type: 'log' } : { zero: false },
    axis: xLog
      ? { values: decades(Math.min(...xs), Math.max(...xs)), format: '.0e', grid: false }
      : { grid: false, ...(xs.every(Number.isInteger) ? { format: 'd', tickMinStep: 1 } : {}) },
  };
  const y = { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: false } };
  return {
    width,
    height,
    ...(title ? { title } : {}),
    layer: [
      { data: { values }, mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color: { field: 'series', type: 'nominal', title: null, legend: series.length > 1 ? {} : null } } },
      ...(points.length
        ? [{ data: { values: points }, mark: { type: 'point', filled: true, size: 140 }, encoding: { x, y, shape: { field: 'name', type: 'nominal', title: null }, color: { value: '#d62728' } } }]
        : []),
    ],
  };
}

/**
 * Renders any vega-lite spec to `file` (.png or .svg).
 *
 * @param spec - A vega-lite specification.
 * @param file - `.png` or `.svg`.
 *
 * @example
 * ```ts
 * await writeVegaLite({ data: { values: [{ a: 1, b: 2 }] }, mark: 'bar', encoding: { x: { field: 'a' }, y: { field: 'b' } } }, 'bar.svg');
 * ```
 */
export async function writeVegaLite(spec: object, file: string): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec as Parameters<typeof vl.compile>[0]).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  await writeFileAtomic(file, file.toLowerCase().endsWith('.svg') ? svg : await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer());
  return file;
}

function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}
