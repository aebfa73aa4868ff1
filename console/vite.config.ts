import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Two pages: the console (index.html, served at GET /) and the API explorer
// (explorer.html, served at GET /graphql to browsers). GraphiQL is a chunk of
// its own, so the console's pages never load it.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      input: { console: resolve(__dirname, 'index.html'), explorer: resolve(__dirname, 'explorer.html') },
    },
  },
});
