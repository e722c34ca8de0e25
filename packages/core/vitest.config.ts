import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { pool: 'forks', maxWorkers: 2, testTimeout: 180_000, hookTimeout: 120_000 } });
