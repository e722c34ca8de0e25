import { defineConfig } from 'vite';

export default defineConfig({
  // Everything is bundled: the site makes no request beyond its own origin.
  base: './',
  // The workspace packages from their sources (the `source` export condition), for the browser.
  resolve: { conditions: ['source', 'module', 'browser', 'development|production'] },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', chunkSizeWarningLimit: 4000 },
  server: { host: '127.0.0.1', fs: { allow: ['../..'] } },
});
