import { ApiRequestError, get, peekQuery, prime, queryMetric } from "./api";
import { setApiKey } from "./auth";

/** A fetch answering each request with its sequence number, recording the URLs asked. */
function counting(): string[] {
  const asked: string[] = [];
  vi.stubGlobal("fetch", (url: string) => {
    asked.push(url);
    return Promise.resolve(new Response(JSON.stringify({ n: asked.length })));
  });
  return asked;
}

describe("a primed GET", () => {
  beforeEach(() => setApiKey("read-1"));
  afterEach(() => vi.unstubAllGlobals());

  it("answers the first request of its URL with the answer already asked, and only that one", async () => {
    const asked = counting();
    prime("/api/v1/query", { metric: "m", start: 1, end: 2 });
    expect(asked).toEqual(["/api/v1/query?metric=m&start=1&end=2"]); // sent at once, before any view asks
    expect(await get("/api/v1/query", { metric: "m", start: 1, end: 2 })).toEqual({ n: 1 });
    expect(asked).toHaveLength(1);
    expect(await get("/api/v1/query", { metric: "m", start: 1, end: 2 })).toEqual({ n: 2 }); // taken once
    expect(await get("/api/v1/query", { metric: "m", start: 1, end: 3 })).toEqual({ n: 3 });
  });

  it("hands its parsed answer to the first peek once it has arrived, and leaves the URL to requests after", async () => {
    const asked = counting();
    const q = { metric: "m", start: 1, end: 2, stats: ["p50" as const] };
    expect(peekQuery(q)).toBeUndefined(); // nothing primed
    prime("/api/v1/query", { metric: "m", start: 1, end: 2, stats: "p50", group_by: "service" });
    expect(peekQuery(q)).toBeUndefined(); // asked, not answered yet
    await new Promise((settled) => setTimeout(settled, 0));
    expect(peekQuery(q)).toEqual({ n: 1 });
    expect(peekQuery(q)).toBeUndefined(); // taken once
    expect(await get("/api/v1/query", { metric: "m", start: 1, end: 2, stats: "p50", group_by: "service" })).toEqual({ n: 2 });
    expect(asked).toHaveLength(2);
  });

  it("is never peeked when it failed: the request that takes it reports the failure", async () => {
    vi.stubGlobal("fetch", () => Promise.resolve(new Response(JSON.stringify({ error: "no such key" }), { status: 401 })));
    prime("/api/v1/query", { metric: "m", start: 1, end: 2, stats: "p50", group_by: "service" });
    await new Promise((settled) => setTimeout(settled, 0));
    expect(peekQuery({ metric: "m", start: 1, end: 2, stats: ["p50"] })).toBeUndefined();
    await expect(get("/api/v1/query", { metric: "m", start: 1, end: 2, stats: "p50", group_by: "service" })).rejects.toThrow("401 no such key");
  });

  it("reports its failure to the request that takes it, as that request's own", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("network down")));
    prime("/api/v1/alerts");
    await expect(get("/api/v1/alerts")).rejects.toThrow("network down");
  });
});

describe("metric queries", () => {
  beforeEach(() => setApiKey("read-1"));
  afterEach(() => vi.unstubAllGlobals());

  /** A batch endpoint answering each query by its metric: "bad" refused, a step under 60 s refused. */
  function batchServer(): { url: string; queries: Record<string, unknown>[] }[] {
    const asked: { url: string; queries: Record<string, unknown>[] }[] = [];
    vi.stubGlobal("fetch", (url: string, init?: RequestInit) => {
      const queries = init?.body ? (JSON.parse(String(init.body)).queries as Record<string, unknown>[]) : [];
      asked.push({ url, queries });
      const results = queries.map((q) =>
        q.metric === "bad"
          ? { status: 404, error: { error: "unknown metric", details: [{ loc: "query.metric", msg: "'bad' was never sent" }] } }
          : q.step === "10s"
            ? { status: 400, error: { error: "invalid query", details: [{ loc: "query.step", msg: "finer than the window" }] } }
            : { status: 200, result: { metric: q.metric, start: q.start, end: q.end, step_ms: null, series: [] } },
      );
      return Promise.resolve(new Response(JSON.stringify(url.endsWith("/batch") ? { results } : { metric: "primed" })));
    });
    return asked;
  }

  it("asked together, go out as one batch, each answered with its own result or error", async () => {
    const asked = batchServer();
    const one = queryMetric({ metric: "a", start: 1, end: 2, stats: ["p95"], groupBy: "service,status_code" });
    const two = queryMetric({ metric: "bad", start: 1, end: 2, stats: ["avg"], service: "gateway", labels: { route: "/x" } });
    await expect(one).resolves.toMatchObject({ metric: "a" });
    const refused = await two.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiRequestError);
    expect((refused as ApiRequestError).status).toBe(404);
    expect((refused as ApiRequestError).message).toContain("'bad' was never sent");
    expect(asked).toEqual([
      {
        url: "/api/v1/query/batch",
        queries: [
          { metric: "a", start: 1, end: 2, stats: ["p95"], group_by: ["service", "status_code"], service: [], step: null, labels: {} },
          { metric: "bad", start: 1, end: 2, stats: ["avg"], group_by: ["service"], service: ["gateway"], step: null, labels: { route: "/x" } },
        ],
      },
    ]);
  });

  it("take a primed answer, and retry a refused step in whole minutes", async () => {
    const asked = batchServer();
    prime("/api/v1/query", { metric: "m", start: 1, end: 2, stats: "p50", group_by: "service" });
    await expect(queryMetric({ metric: "m", start: 1, end: 2, stats: ["p50"] })).resolves.toEqual({ metric: "primed" });
    await expect(queryMetric({ metric: "s", start: 1, end: 2, stats: ["p50"], stepMs: 10_000 })).resolves.toMatchObject({ metric: "s" });
    expect(asked.map((a) => [a.url, a.queries.map((q) => q.step)])).toEqual([
      ["/api/v1/query?metric=m&start=1&end=2&stats=p50&group_by=service", []],
      ["/api/v1/query/batch", ["10s"]],
      ["/api/v1/query/batch", ["1m"]],
    ]);
  });
});
