// Builds the dashboard into the Python package (api/static), so `pip install perfpulse` serves it
// without Node. The API serves /assets/* with a year-long cache: every file name there carries a hash.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
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
