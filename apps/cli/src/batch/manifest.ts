/**
 * A batch manifest: one case per row, as CSV (a header row, then rows) or JSON Lines (one object
 * per line). Columns: support_image, support_label, query, out; optional organs (names or values,
 * separated by `;` or `,` inside quotes, or "all") and query_label (for Dice). Relative paths are
 * relative to the manifest's folder. Every bad row is reported with its row number.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { CliError } from '../errors.ts';

export interface BatchCase {
  /** 1-based row of the manifest (the line, for JSON Lines; the data row after the header, for CSV). */
  row: number;
  supportImage: string;
  supportLabel: string;
  query: string;
  out: string;
  /** Organ names or values, or 'all' (the default). */
  organs: string;
  queryLabel?: string;
}

const REQUIRED = ['support_image', 'support_label', 'query', 'out'] as const;
const OPTIONAL = ['organs', 'query_label'] as const;

/** One CSV line into fields; quotes hold commas and doubled quotes. */
function csvFields(line: string): string[] | null {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      out.push(field.trim());
      field = '';
    } else {
      field += c;
    }
  }
  if (quoted) return null;
  out.push(field.trim());
  return out;
}

export function parseManifest(text: string, path: string): BatchCase[] {
  const base = dirname(resolve(path));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const lines = text.split(/\r?\n/);
  const jsonl =
    /\.jsonl?$/i.test(path) ||
    lines
      .find((l) => l.trim())
      ?.trim()
      .startsWith('{');
  const problems: string[] = [];
  const records: { row: number; fields: Record<string, unknown> }[] = [];
  if (jsonl) {
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        const v = JSON.parse(line) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        records.push({ row: i + 1, fields: v as Record<string, unknown> });
      } catch (error) {
        problems.push(`row ${i + 1}: not a JSON object (${(error as Error).message})`);
      }
    });
  } else {
    const nonEmpty = lines.map((l, i) => ({ l, i })).filter(({ l }) => l.trim() && !l.trim().startsWith('#'));
    const header = nonEmpty[0] ? csvFields(nonEmpty[0].l) : null;
    if (!header) throw new CliError(`${path}: empty manifest: a CSV needs a header row (${REQUIRED.join(', ')}[, ${OPTIONAL.join(', ')}])`);
    const unknown = header.filter((h) => !(REQUIRED as readonly string[]).includes(h) && !(OPTIONAL as readonly string[]).includes(h));
    if (unknown.length)
      problems.push(`header: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (columns: ${[...REQUIRED, ...OPTIONAL].join(', ')})`);
    nonEmpty.slice(1).forEach(({ l }, k) => {
      const row = k + 1;
      const fields = csvFields(l);
      if (!fields) return problems.push(`row ${row}: an unclosed quote`);
      if (fields.length !== header.length) return problems.push(`row ${row}: ${fields.length} fields, the header has ${header.length}`);
      records.push({ row, fields: Object.fromEntries(header.map((h, i) => [h, fields[i]])) });
    });
  }
  const cases: BatchCase[] = [];
  const outs = new Map<string, number>();
  for (const { row, fields } of records) {
    const str = (k: string) => (typeof fields[k] === 'string' ? (fields[k] as string).trim() : fields[k] === undefined || fields[k] === '' ? '' : null);
    const missing = REQUIRED.filter((k) => !str(k));
    if (missing.length) {
      problems.push(`row ${row}: ${missing.join(', ')} missing`);
      continue;
    }
    const bad = [...REQUIRED, ...OPTIONAL].filter((k) => str(k) === null);
    if (bad.length) {
      problems.push(`row ${row}: ${bad.join(', ')} must be text`);
      continue;
    }
    const out = at(str('out')!);
    if (!/\.(nii(\.gz)?|nrrd|dcm)$/i.test(out)) {
      problems.push(`row ${row}: out ${str('out')} must be a .nii.gz, .nii, .nrrd or .dcm (DICOM SEG) file`);
      continue;
    }
    const earlier = outs.get(out);
    if (earlier !== undefined) {
      problems.push(`row ${row}: out ${str('out')} is also the output of row ${earlier}`);
      continue;
    }
    outs.set(out, row);
    const organs = (str('organs') || 'all')
      .split(/[;,]/)
      .map((o) => o.trim())
      .filter(Boolean)
      .join(',');
    cases.push({
      row,
      supportImage: at(str('support_image')!),
      supportLabel: at(str('support_label')!),
      query: at(str('query')!),
      out,
      organs,
      ...(str('query_label') && { queryLabel: at(str('query_label')!) }),
    });
  }
  // No case may write over what any case reads.
  const inputs = new Map<string, number>();
  for (const c of cases) for (const p of [c.supportImage, c.supportLabel, c.query, c.queryLabel]) if (p && !inputs.has(p)) inputs.set(p, c.row);
  for (const c of cases) {
    const reader = inputs.get(c.out);
    if (reader !== undefined) problems.push(`row ${c.row}: out ${c.out} is an input of row ${reader}; it would be overwritten`);
  }
  if (problems.length) throw new CliError(`${path}: the manifest has problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  if (cases.length === 0) throw new CliError(`${path}: the manifest has no cases`);
  return cases;
}
