import { act, cleanup, fireEvent, render } from "@testing-library/react";
import { checkAccess, setApiKey } from "../../lib/auth";
import type { RulesList } from "../../lib/types";
import { RulesPanel } from "./RulesPanel";

const list: RulesList = {
  file: "/etc/perfpulse/alerts.yaml",
  loaded: true,
  rules: [
    {
      name: "gateway_slow",
      condition: "response_time.p95 > 200",
      severity: "critical",
      notification: ["ops"],
      for_ms: 30_000,
      keep_firing_for_ms: 0,
      labels: {},
      annotations: { summary: "slow" },
      group_by: ["service"],
      window_ms: 0,
      line: 2,
    },
  ],
  channels: [{ name: "ops", type: "webhook", target: "https://hooks:443/", enabled: true, disabled: null }],
  errors: [],
  warnings: [],
};

/** Sign in with a key the API's admin-only probe answers ``status`` for. */
async function signIn(status: number) {
  vi.stubGlobal("fetch", () => Promise.resolve(new Response("{}", { status })));
  setApiKey(status === 200 ? "admin-key" : "read-key");
  await act(checkAccess);
}

describe("RulesPanel", () => {
  afterEach(() => {
    cleanup(); // unmount before signing out: the panel listens to the access switch
    vi.unstubAllGlobals();
    setApiKey(null);
  });

  it("shows a read key the rules and no write action", async () => {
    await signIn(403);
    const { container } = render(<RulesPanel list={list} />);
    expect(container.querySelector('[data-rule="gateway_slow"]')?.textContent).toContain("response_time.p95 > 200");
    expect(container.querySelectorAll(".write-action")).toHaveLength(0);
  });

  it("gives an admin key new, edit and delete, the editor filled with the rule", async () => {
    await signIn(200);
    const { container } = render(<RulesPanel list={list} />);
    const actions = [...container.querySelectorAll(".write-action")].map((b) => b.getAttribute("data-action"));
    expect(actions).toEqual(["new-rule", "edit-rule", "delete-rule"]);
    fireEvent.click(container.querySelector('[data-action="edit-rule"]')!);
    const form = container.querySelector(".rule-editor")!;
    expect((form.querySelector('input[name="condition"]') as HTMLInputElement).value).toBe("response_time.p95 > 200");
    expect((form.querySelector('input[name="for"]') as HTMLInputElement).value).toBe("30s");
    fireEvent.click(container.querySelector('[data-action="delete-rule"]')!);
    expect(container.querySelector('[data-action="confirm-delete"]')?.textContent).toBe("Delete gateway_slow");
  });
});
