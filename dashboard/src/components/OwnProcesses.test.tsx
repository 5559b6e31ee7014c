import { render } from "@testing-library/react";
import type { ProcessResources, Resources } from "../lib/types";
import { OwnProcesses } from "./OwnProcesses";

const at = 1_800_000_000_000;

function proc(role: string, pid: number, rss: number, cpu: number, http: number | null, live: number | null): ProcessResources {
  return { role, host: "box", pid, started_at: at - 60_000, at: at - 3_000, rss_bytes: rss, cpu_percent: cpu, tcp_connections: 9, http_connections: http, live_connections: live };
}

const answer: Resources = {
  at,
  report_every_s: 5,
  stale_after_s: 30,
  board: "ok",
  processes: [proc("api+sink+notifier", 10, 300 * 1024 * 1024, 42.5, 4, 2), proc("stream", 11, 100 * 1024 * 1024, 5.25, null, null)],
};

describe("OwnProcesses", () => {
  it("shows each process's CPU, memory and connections, and the totals", () => {
    const { container } = render(<OwnProcesses answer={answer} />);
    const rows = [...container.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent));
    expect(rows).toEqual([
      ["api+sink+notifier", "box · 10", "43 %", "300 MiB", "9", "4", "2", "3 s ago"],
      ["stream", "box · 11", "5.3 %", "100 MiB", "9", "", "", "3 s ago"],
    ]);
    const total = [...container.querySelectorAll("tfoot td")].map((td) => td.textContent);
    expect(total).toEqual(["all 2", "", "48 %", "400 MiB", "", "4", "2", "every 5 s"]);
    expect(container.querySelector('[role="alert"]')).toBeNull();
  });

  it("says when only the API process could be shown", () => {
    const { container } = render(<OwnProcesses answer={{ ...answer, board: "unreachable", processes: answer.processes.slice(0, 1) }} />);
    expect(container.querySelector('[role="alert"]')?.textContent).toMatch(/Redis unreachable/);
    expect(container.querySelector("tfoot")).toBeNull();
  });
});
