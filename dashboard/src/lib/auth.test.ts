import { authHeaders, currentAccess, learnAccess, setApiKey } from "./auth";

describe("API key and access", () => {
  beforeEach(() => setApiKey(null));

  it("sends the stored key as a bearer token, and keeps it in the browser", () => {
    expect(authHeaders()).toEqual({});
    setApiKey("read-123");
    expect(authHeaders()).toEqual({ Authorization: "Bearer read-123" });
    expect(window.localStorage.getItem("perfpulse.apiKey")).toBe("read-123");
  });

  it("turns write actions off when the API refuses a write with 403, and only then", () => {
    setApiKey("read-123");
    learnAccess(403, false); // a refused read says nothing about writing
    expect(currentAccess().canWrite).toBe(true);
    learnAccess(403, true);
    expect(currentAccess().canWrite).toBe(false);
    setApiKey("admin-456"); // another key may write again until refused
    expect(currentAccess().canWrite).toBe(true);
  });

  it("asks for a key when the API answers 401", () => {
    learnAccess(401, false);
    expect(currentAccess().needsKey).toBe(true);
    setApiKey("any");
    expect(currentAccess().needsKey).toBe(false);
  });
});
