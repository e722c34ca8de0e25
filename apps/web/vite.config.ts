import { defineConfig } from 'vite';

export default defineConfig({
  // Everything is bundled: the site makes no request beyond its own origin.
  base: './',
  resolve: { conditions: ['browser'] },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', chunkSizeWarningLimit: 4000 },
  server: { host: '127.0.0.1', fs: { allow: ['../..'] } },
});
