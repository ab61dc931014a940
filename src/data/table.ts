import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';

/** A "data frame" as JS users have one: an array of row objects. */
export type Row = Record<string, unknown>;

/** A column given by name or by position, as fastai's `fn_col` / `label_col`. */
export type ColumnRef = string | number;

/**
 * Reads a CSV with a header row into rows of strings (quoted fields, BOM and CRLF handled).
 *
 * @param file - The CSV file (UTF-8, with a header row).
 * @returns One object per row, keyed by the header's column names, values as strings.
 *
 * @example
 * ```ts
 * const rows = await readCsv('data/albums.csv');
 * const metal = rows.filter((r) => r.metal === '1');
 * ```
 */
export async function readCsv(file: string): Promise<Row[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`fastvision: cannot read CSV '${file}': ${(err as Error).message}`, { cause: err });
  }
  try {
    return parse(text, { bom: true, columns: true, skip_empty_lines: true, relax_column_count: false }) as Row[];
  } catch (err) {
    throw new Error(`fastvision: cannot parse CSV '${file}': ${(err as Error).message}`, { cause: err });
  }
}

/** The columns of a table, in the order of its first row. */
export function columnsOf(rows: readonly Row[]): string[] {
  return rows.length ? Object.keys(rows[0]!) : [];
}

/**
 * The column name a `ColumnRef` points at. An index counts columns in the order of
 * the first row; a name must exist. The error lists the columns that do.
 */
export function resolveColumn(rows: readonly Row[], ref: ColumnRef, option: string, source: string): string {
  const columns = columnsOf(rows);
  const name = typeof ref === 'number' ? columns[ref] : ref;
  if (name == null || !columns.includes(name)) {
    const what = typeof ref === 'number' ? `index ${ref}` : `'${ref}'`;
    throw new Error(
      `fastvision: ${option} ${what} is not a column of ${source}; its columns are: ${columns.map((c) => `'${c}'`).join(', ')}`,
    );
  }
  return name;
}

/** "row 5 (line 6 of albums.csv)" for a CSV, "row 5" for an in-memory table. 1-based. */
export function describeRow(index: number, csvFile?: string): string {
  return csvFile ? `row ${index + 1} (line ${index + 2} of ${csvFile})` : `row ${index + 1}`;
}
