/** One row of a classification report. */
export interface ReportRow {
  /** Of the items predicted as the class, the share that are. */
  precision: number;
  /** Of the items of the class, the share predicted as it. */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
  /** Number of items of the class. */
  support: number;
}

/** sklearn's `classification_report` as data: per class, accuracy, macro and weighted averages. */
export interface ClassificationReport {
  /** One row per class, in vocab order. */
  classes: (ReportRow & { label: string })[];
  /** Share of items predicted correctly. */
  accuracy: number;
  /** Unweighted mean over classes. */
  macroAvg: ReportRow;
  /** Mean over classes weighted by support. */
  weightedAvg: ReportRow;
}

/**
 * The report from a confusion matrix (rows actual, columns predicted). A class never
 * predicted has precision 0 (sklearn's `zero_division=0`), never NaN.
 *
 * @param cm - `cm[actual][predicted]` counts.
 * @param vocab - Class names, in the matrix's order.
 *
 * @example
 * ```ts
 * const report = classificationReport([[50, 5], [10, 35]], ['metal', 'rap']);
 * report.accuracy;   // 0.85
 * ```
 */
export function classificationReport(cm: readonly (readonly number[])[], vocab: readonly string[]): ClassificationReport {
  const n = cm.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
  const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const classes = vocab.map((label, k) => {
    const tp = cm[k]![k]!;
    const predicted = cm.reduce((a, row) => a + row[k]!, 0);
    const support = cm[k]!.reduce((a, b) => a + b, 0);
    const precision = div(tp, predicted);
    const recall = div(tp, support);
    return { label, precision, recall, f1: div(2 * precision * recall, precision + recall), support };
  });
  const avg = (weight: (r: ReportRow) => number): ReportRow => {
    const total = classes.reduce((a, r) => a + weight(r), 0);
    const mean = (key: 'precision' | 'recall' | 'f1') => div(classes.reduce((a, r) => a + r[key] * weight(r), 0), total);
    return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support: n };
  };
  return {
    classes,
    accuracy: div(vocab.reduce((a, _, k) => a + cm[k]![k]!, 0), n),
    macroAvg: avg(() => 1),
    weightedAvg: avg((r) => r.support),
  };
}

/**
 * The report as sklearn prints it (two decimals).
 *
 * @param report - From {@link classificationReport}.
 * @param digits - Decimals. Default 2.
 *
 * @example
 * ```ts
 * console.log(formatClassificationReport(interp.classificationReport()));
 * ```
 */
export function formatClassificationReport(report: ClassificationReport, digits = 2): string {
  const width = Math.max('weighted avg'.length, ...report.classes.map((c) => c.label.length));
  const num = (v: number) => v.toFixed(digits).padStart(9);
  const row = (name: string, r: ReportRow) => `${name.padStart(width)}  ${num(r.precision)} ${num(r.recall)} ${num(r.f1)} ${String(r.support).padStart(9)}`;
  const header = `${''.padStart(width)}  ${['precision', 'recall', 'f1-score', 'support'].map((h) => h.padStart(9)).join(' ')}`;
  const n = report.macroAvg.support;
  return [
    header,
    '',
    ...report.classes.map((c) => row(c.label, c)),
    '',
    `${'accuracy'.padStart(width)}  ${''.padStart(9)} ${''.padStart(9)} ${num(report.accuracy)} ${String(n).padStart(9)}`,
    row('macro avg', report.macroAvg),
    row('weighted avg', report.weightedAvg),
  ].join('\n');
}
