import { parse } from 'csv-parse/sync';
import { FastvisionError } from '../core/errors.js';
import { readRegularFile } from '../core/safeRead.js';

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
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file, { maxBytes: 2 * 1024 ** 3, what: 'CSV' });
  } catch (err) {
    if (err instanceof FastvisionError) throw new FastvisionError('BAD_DATA', `cannot read CSV: ${err.message.replace(/^fastvision: /, '')}`, { cause: err });
    throw err;
  }
  const text = utf8(bytes, file);
  try {
    return parse(text, { bom: true, columns: (header: string[]) => uniqueColumns(header, file), skip_empty_lines: true, relax_column_count: false }) as Row[];
  } catch (err) {
    if (err instanceof FastvisionError) throw err;
    throw new FastvisionError('BAD_DATA', `fastvision: cannot parse CSV '${file}': ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The text of a UTF-8 file. Anything else is an error naming the first line that is
 * not UTF-8: decoded leniently, `café` and `cafè` in Latin-1 would both become
 * `caf\ufffd` and silently merge two classes.
 */
function utf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const strict = new TextDecoder('utf-8', { fatal: true });
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        strict.decode(bytes.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw new FastvisionError('BAD_DATA', `CSV '${file}' is not UTF-8 (line ${line} is not); save it as UTF-8 (e.g. \`iconv -f latin1 -t utf-8\`)`);
  }
}

/** The header's names, refusing duplicates (csv-parse would let the last one win). */
function uniqueColumns(header: string[], file: string): string[] {
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    if (seen.has(name)) {
      throw new FastvisionError('BAD_DATA', `CSV '${file}' has the column name '${name}' twice (columns ${seen.get(name)! + 1} and ${i + 1}); rename one`);
    }
    seen.set(name, i);
  });
  return header;
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
    throw new FastvisionError('BAD_DATA',
      `fastvision: ${option} ${what} is not a column of ${source}; its columns are: ${columns.map((c) => `'${c}'`).join(', ')}`,
    );
  }
  return name;
}

/** "row 5 (line 6 of albums.csv)" for a CSV, "row 5" for an in-memory table. 1-based. */
export function describeRow(index: number, csvFile?: string): string {
  return csvFile ? `row ${index + 1} (line ${index + 2} of ${csvFile})` : `row ${index + 1}`;
}
