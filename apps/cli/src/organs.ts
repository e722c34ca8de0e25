/** Which organs a run segments (`--organ`, `--organs`, a manifest's `organs`) and the values it writes. */
import type { Volume } from '@synpo/io';
import { LABEL_MAPS, labelValues, MAX_LABEL, organName, type LabelMapName } from '@synpo/core';
import { CliError, EXIT } from './errors.ts';
import { organValue } from './inputs.ts';
import { parseInteger } from './numbers.ts';

export interface OrganOpts {
  organ?: string | undefined;
  organs?: string | undefined;
  /** A number (one organ) or name=value pairs. */
  value?: string | undefined;
  /** The label map organ names come from. */
  labels: string;
  /** Write every organ with its support value, even a single one (batches, queues). */
  supportValues?: boolean;
}

/** An organ to segment: its name, its value in the support labels, the value written. */
export interface ChosenOrgan {
  name: string;
  value: number;
  written: number;
}

/** The organs of `--organ` / `--organs` (and the values `--value` writes), checked against the support. */
export function chooseOrgans(opts: OrganOpts, labelPath: string, supportLabel: Volume): ChosenOrgan[] {
  if (opts.organ !== undefined && opts.organs !== undefined) throw new CliError('give --organ or --organs, not both', EXIT.usage);
  const present = labelValues(supportLabel.data);
  const map = opts.labels in LABEL_MAPS ? (opts.labels as LabelMapName) : null;
  const nameOf = (value: number) => organName(map, value);
  let chosen: { name: string; value: number }[];
  if (opts.organs !== undefined) {
    const list = opts.organs
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (list.length === 0) throw new CliError('--organs needs a list of organs, or "all"', EXIT.usage);
    chosen =
      list.length === 1 && list[0] === 'all'
        ? present.map((value) => ({ name: nameOf(value), value }))
        : list.map((o) => {
            const value = organValue(o, opts.labels);
            return { name: /^\d+$/.test(o) ? nameOf(value) : o, value };
          });
    if (new Set(chosen.map((c) => c.value)).size !== chosen.length) throw new CliError(`--organs names an organ twice: ${opts.organs}`, EXIT.usage);
  } else {
    const binary = present.length <= 1;
    const value = opts.organ !== undefined ? organValue(opts.organ, opts.labels) : binary ? (present[0] ?? 1) : null;
    if (value === null)
      throw new CliError(`${labelPath} has several labels (${present.join(', ')}): name the organ with --organ, or several with --organs`, EXIT.usage);
    chosen = [{ name: opts.organ !== undefined && !/^\d+$/.test(opts.organ) ? opts.organ : nameOf(value), value }];
  }
  for (const c of chosen) {
    if (c.value === 0) {
      throw new CliError(
        `label 0 is the background, not an organ; the support label ${labelPath} has ${present.length ? `labels ${present.join(', ')}` : 'no labels'}`,
        EXIT.usage,
      );
    }
    if (!present.includes(c.value)) {
      throw new CliError(
        `the support label ${labelPath} has no voxel with value ${c.value} (${c.name}): the organ is absent from the support (it has ${present.join(', ') || 'no labels'})`,
      );
    }
  }
  // What is written: one organ → --value (default 1); several → the support's values, or name=value pairs.
  const written = new Map<string, number>();
  if (opts.value !== undefined) {
    const label = { min: 1, max: MAX_LABEL };
    if (/^\s*-?\d+\s*$/.test(opts.value)) {
      if (chosen.length > 1) throw new CliError('--value with --organs takes name=value pairs, e.g. liver=1,spleen=2', EXIT.usage);
      written.set(chosen[0]!.name, parseInteger('--value', opts.value, label));
    } else {
      for (const pair of opts.value.split(',')) {
        const m = /^\s*([\w-]+)\s*=\s*(-?\d+)\s*$/.exec(pair);
        if (!m) throw new CliError(`--value: '${pair}' is not name=value`, EXIT.usage);
        const organ = chosen.find((c) => c.name === m[1] || String(c.value) === m[1]);
        if (!organ) throw new CliError(`--value names ${m[1]}, which is not among the organs (${chosen.map((c) => c.name).join(', ')})`, EXIT.usage);
        written.set(organ.name, parseInteger(`--value ${m[1]}`, m[2]!, label));
      }
    }
  }
  const result = chosen.map((c) => ({ ...c, written: written.get(c.name) ?? (chosen.length > 1 || opts.supportValues ? c.value : 1) }));
  for (const c of result) {
    if (!Number.isInteger(c.written) || c.written < 1 || c.written > MAX_LABEL) {
      throw new CliError(`the ${c.name} would be written as ${c.written}: label values run from 1 to ${MAX_LABEL}; give --value`, EXIT.usage);
    }
  }
  const clash = result.find((c, i) => result.findIndex((d) => d.written === c.written) !== i);
  if (clash) throw new CliError(`two organs would be written with the value ${clash.written}; give each its own with --value name=value`, EXIT.usage);
  return result;
}
