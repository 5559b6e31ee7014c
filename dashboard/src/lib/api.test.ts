import { get, prime } from "./api";
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

  it("reports its failure to the request that takes it, as that request's own", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("network down")));
    prime("/api/v1/alerts");
    await expect(get("/api/v1/alerts")).rejects.toThrow("network down");
  });
});
