// Builds the dashboard into the Python package (api/static), so `pip install perfpulse` serves it
// without Node. The API serves /assets/* with a year-long cache: every file name there carries a hash.
import react from "@vitejs/plugin-react";
import type { HtmlTagDescriptor, Plugin } from "vite";
import { defineConfig } from "vitest/config";

// The overview is the page a visit opens first: its chunk (and the chunks it imports) is preloaded
// beside the entry script instead of fetched once the entry has run, a round trip fewer before the
// first chart. Other routes stay lazy; the preload costs them the overview's 29 KB gzipped, cached.
function preloadOverview(): Plugin {
  return {
    name: "perfpulse-preload-overview",
    apply: "build",
    transformIndexHtml: {
      order: "post",
      handler(_html, ctx): HtmlTagDescriptor[] {
        const chunks = Object.values(ctx.bundle ?? {}).flatMap((c) => (c.type === "chunk" ? [c] : []));
        const overview = chunks.find((c) => c.facadeModuleId?.endsWith("/src/views/Overview.tsx"));
        const entry = chunks.find((c) => c.isEntry);
        if (!overview) throw new Error("no chunk for src/views/Overview.tsx to preload");
        const files = [overview.fileName, ...overview.imports.filter((f) => f !== entry?.fileName)];
        const css = [...(overview.viteMetadata?.importedCss ?? [])]; // uPlot's: the loader skips a sheet already linked
        return [
          ...files.map((f) => ({ tag: "link", attrs: { rel: "modulepreload", crossorigin: true, href: `/${f}` }, injectTo: "head" as const })),
          ...css.map((f) => ({ tag: "link", attrs: { rel: "stylesheet", crossorigin: true, href: `/${f}` }, injectTo: "head" as const })),
        ];
      },
    },
  };
}

export default defineConfig({
  plugins: [react(), preloadOverview()],
  base: "/",
  build: {
    outDir: "../api/static",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev` against a perfpulse on :8080 (PERFPULSE_API_URL overrides)
    proxy: { "/api": process.env.PERFPULSE_API_URL ?? "http://127.0.0.1:8080" },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
