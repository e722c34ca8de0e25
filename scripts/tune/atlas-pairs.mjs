#!/usr/bin/env node
/**
 * The atlas prior's registration alone, on every ordered pair of a tuning fold's cases (each case
 * the support of every other: 20 pairs on CHAOS fold 0, 42 on SABS fold 0): the Dice of the carried
 * organ (atlas cells covered at least half) against the query's truth over the query's organ
 * range, per organ the mean, the worst pair and the 10th percentile. Each JSON variant sets
 * refineShift's `margin` and `search` (packages/core/src/atlas.ts), or `{"norefine": true}` for
 * the landmarks alone. `time` instead of the variants times the pipeline's own atlas
 * (`carriedAtlas`, every organ, the defaults) per pair, one pair after another in this process.
 * Run `pnpm build` first; it reads the built packages.
 *
 *   node scripts/tune/atlas-pairs.mjs sabs-ct '[{}, {"search": 36}, {"margin": 5}]'
 *   node scripts/tune/atlas-pairs.mjs sabs-ct time
 */
const core = await import(new URL('../../packages/core/dist/index.js', import.meta.url).href);
const { readNifti } = await import(new URL('../../packages/io/dist/node.js', import.meta.url).href);
const { prepareVolume, labelsToRoi, organRange, atlasTransform, refineShift, organAtlas, carriedAtlas, LAYOUTS, ORGANS, ATLAS_GRID, PIXELS } = core;

const [name = 'sabs-ct', variantsArg = '[{}]'] = process.argv.slice(2);
const layout = LAYOUTS[name];
if (!layout) throw new Error(`unknown layout ${name} (${Object.keys(LAYOUTS).join(', ')})`);
const data = process.env.SYNPO_DATA ?? new URL('../../../shared/data', import.meta.url).pathname;
const fold = layout.fold(0);
const ids = [...fold.queries, fold.support];
const cases = new Map();
for (const id of ids) {
  const image = await readNifti(`${data}/${name}/${layout.image(id)}`);
  const labels = await readNifti(`${data}/${name}/${layout.label(id)}`);
  const prepared = prepareVolume(image, 'auto');
  cases.set(id, { prepared, masks: Object.fromEntries(ORGANS.map((o) => [o, labelsToRoi(labels, prepared, layout.labels[o])])) });
}

const ROI = Math.sqrt(PIXELS);
const cell = ROI / ATLAS_GRID;
/** Dice (%) of the atlas cells ≥ 0.5 against the truth on the query's organ slices. */
function atlasDice(maps, truth, first) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  maps.forEach((map, i) => {
    const z = first + i;
    for (let p = 0; p < PIXELS; p++) {
      const carried = map[Math.floor(Math.floor(p / ROI) / cell) * ATLAS_GRID + Math.floor((p % ROI) / cell)] >= 0.5;
      const organ = truth[z * PIXELS + p] > 0;
      if (carried && organ) tp++;
      else if (carried) fp++;
      else if (organ) fn++;
    }
  });
  return (200 * tp) / (2 * tp + fp + fn);
}

if (variantsArg === 'time') {
  const pairs = [];
  const organs = Object.fromEntries(ORGANS.map((o) => [o, []]));
  for (const s of ids) {
    for (const q of ids) {
      if (s === q) continue;
      const S = cases.get(s);
      const Q = cases.get(q);
      let pair = 0;
      for (const organ of ORGANS) {
        const ms = carriedAtlas(S.prepared, S.masks[organ], Q.prepared, organRange(Q.masks[organ], Q.prepared.nz)).transform.ms;
        organs[organ].push(ms);
        pair += ms;
      }
      pairs.push(pair);
    }
  }
  const span = (v) => `${(Math.min(...v) / 1000).toFixed(2)}–${(Math.max(...v) / 1000).toFixed(2)} s`;
  const each = ORGANS.map((o) => `${o} ${span(organs[o])}`).join(', ');
  process.stdout.write(`${name}: the atlas of a pair, ${ORGANS.length} organs, ${span(pairs)} over ${pairs.length} pairs; ${each}\n`);
  process.exit(0);
}

for (const variant of JSON.parse(variantsArg)) {
  const t0 = performance.now();
  const row = [];
  for (const organ of ORGANS) {
    const dice = [];
    for (const s of ids) {
      for (const q of ids) {
        if (s === q) continue;
        const S = cases.get(s);
        const Q = cases.get(q);
        const support = { volume: S.prepared, range: organRange(S.masks[organ], S.prepared.nz) };
        const query = { volume: Q.prepared, range: organRange(Q.masks[organ], Q.prepared.nz) };
        const placed = atlasTransform(support, query);
        const transform = variant.norefine ? placed : refineShift(support, S.masks[organ], query, placed, variant);
        dice.push(atlasDice(organAtlas(support, S.masks[organ], query, transform, 0), Q.masks[organ], query.range[0]));
      }
    }
    dice.sort((a, b) => a - b);
    const mean = dice.reduce((a, v) => a + v, 0) / dice.length;
    row.push(`${organ} ${mean.toFixed(1)} (worst ${dice[0].toFixed(0)}, p10 ${dice[Math.floor(dice.length / 10)].toFixed(0)})`);
  }
  process.stdout.write(`${name} ${JSON.stringify(variant)}: ${row.join(', ')}; ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
