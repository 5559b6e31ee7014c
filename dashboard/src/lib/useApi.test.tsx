import { act, render } from "@testing-library/react";
import { useApi } from "./useApi";

/** Shows what ``useApi`` gives for ``key``, and counts the renders and loads. */
function Probe({ id, load, peek, renders }: { id: string; load: () => Promise<string>; peek?: () => string | undefined; renders: string[] }) {
  const { data, loading } = useApi(id, load, peek);
  renders.push(`${data ?? "-"}${loading ? " loading" : ""}`);
  return <output>{data ?? ""}</output>;
}

describe("useApi", () => {
  it("loads each key, showing the previous answer meanwhile", async () => {
    const renders: string[] = [];
    const load = vi.fn((): Promise<string> => Promise.resolve(`answer ${load.mock.calls.length}`));
    const { rerender } = render(<Probe id="a" load={load} renders={renders} />);
    await act(async () => undefined);
    expect(renders.at(-1)).toBe("answer 1");
    rerender(<Probe id="b" load={load} renders={renders} />);
    expect(renders.at(-1)).toBe("answer 1 loading"); // kept on screen while b loads
    await act(async () => undefined);
    expect(renders.at(-1)).toBe("answer 2");
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("renders a peeked answer at once, without loading it, and loads the keys after it", async () => {
    const renders: string[] = [];
    const load = vi.fn(() => Promise.resolve("loaded"));
    const peek = vi.fn(() => "peeked");
    const { rerender } = render(<Probe id="a" load={load} peek={peek} renders={renders} />);
    expect(renders[0]).toBe("peeked"); // the very first render holds it
    await act(async () => undefined);
    expect(load).not.toHaveBeenCalled();
    rerender(<Probe id="b" load={load} peek={peek} renders={renders} />);
    await act(async () => undefined);
    expect(load).toHaveBeenCalledTimes(1);
    expect(renders.at(-1)).toBe("loaded");
  });

  it("loads as usual when the peek has nothing yet", async () => {
    const renders: string[] = [];
    const load = vi.fn(() => Promise.resolve("loaded"));
    render(<Probe id="a" load={load} peek={() => undefined} renders={renders} />);
    expect(renders[0]).toBe("- loading");
    await act(async () => undefined);
    expect(load).toHaveBeenCalledTimes(1);
    expect(renders.at(-1)).toBe("loaded");
  });
});
