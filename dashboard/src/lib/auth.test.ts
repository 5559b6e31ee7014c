import { authHeaders, checkAccess, currentAccess, learnAccess, setApiKey } from "./auth";

/** A fetch answering every request with ``status``, recording the requests. */
function answering(status: number): { url: string; headers: Record<string, string> }[] {
  const seen: { url: string; headers: Record<string, string> }[] = [];
  vi.stubGlobal("fetch", (url: string, init: { headers: Record<string, string> }) => {
    seen.push({ url, headers: init.headers });
    return Promise.resolve(new Response("{}", { status }));
  });
  return seen;
}

describe("API key and access", () => {
  beforeEach(() => setApiKey(null));

  it("sends the stored key as a bearer token, and keeps it in the browser", () => {
    expect(authHeaders()).toEqual({});
    setApiKey("read-123");
    expect(authHeaders()).toEqual({ Authorization: "Bearer read-123" });
    expect(window.localStorage.getItem("perfpulse.apiKey")).toBe("read-123");
  });

  afterEach(() => vi.unstubAllGlobals());

  it("shows write actions only once the API let the key read the admin-only keys listing", async () => {
    const seen = answering(200);
    setApiKey("admin-456");
    expect(currentAccess().canWrite).toBe(false); // not asked yet
    await checkAccess();
    expect(currentAccess().canWrite).toBe(true);
    expect(seen).toEqual([{ url: "/api/v1/keys", headers: { Accept: "application/json", Authorization: "Bearer admin-456" } }]);
  });

  it("keeps write actions hidden for a key the listing refuses, and asks for a key on 401", async () => {
    answering(403);
    setApiKey("read-123");
    await checkAccess();
    expect(currentAccess()).toMatchObject({ canWrite: false, needsKey: false });
    answering(401);
    await checkAccess();
    expect(currentAccess()).toMatchObject({ canWrite: false, needsKey: true });
  });

  it("drops an answer about a key signed out meanwhile", async () => {
    answering(200);
    setApiKey("admin-456");
    const asked = checkAccess();
    setApiKey("read-123");
    await asked;
    expect(currentAccess()).toMatchObject({ key: "read-123", canWrite: false });
  });

  it("turns write actions off when the API refuses a write with 403, and only then", async () => {
    answering(200);
    setApiKey("admin-456");
    await checkAccess();
    learnAccess(403, false); // a refused read says nothing about writing
    expect(currentAccess().canWrite).toBe(true);
    learnAccess(403, true);
    expect(currentAccess().canWrite).toBe(false);
  });

  it("asks for a key when the API answers 401", () => {
    learnAccess(401, false);
    expect(currentAccess().needsKey).toBe(true);
    setApiKey("any");
    expect(currentAccess().needsKey).toBe(false);
  });
});
