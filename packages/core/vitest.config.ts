import { defineConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.ts';

export default defineConfig({
  ...sourceConditions,
  test: { pool: 'forks', maxWorkers: 2, testTimeout: 180_000, hookTimeout: 120_000 },
});
