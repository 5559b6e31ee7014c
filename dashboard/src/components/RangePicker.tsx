// The time-range picker: presets from 5 minutes to 30 days, or a custom from/to. Writes ``range``
// into the URL, so every view and every copied link follows it.
import { memo, useState } from "react";
import { setParams } from "../lib/router";
import { describeRange, PRESETS, serializeRange, type TimeRange } from "../lib/timeRange";

function toInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16); // local "YYYY-MM-DDTHH:mm" for datetime-local
}

function RangePickerImpl({ range, start, end }: { range: TimeRange; start: number; end: number }) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState(() => toInput(start));
  const [to, setTo] = useState(() => toInput(end));
  const choose = (next: TimeRange) => {
    setParams({ range: serializeRange(next) });
    setOpen(false);
  };
  const applyCustom = () => {
    const s = new Date(from).getTime();
    const e = new Date(to).getTime();
    if (Number.isFinite(s) && Number.isFinite(e) && e > s) choose({ kind: "absolute", start: s, end: e });
  };
  return (
    <div className="range-picker">
      <button
        type="button"
        className="range-button"
        aria-expanded={open}
        onClick={() => {
          setFrom(toInput(start));
          setTo(toInput(end));
          setOpen(!open);
        }}
      >
        {describeRange(range)} ▾
      </button>
      {open && (
        <div className="range-menu" role="menu">
          <div className="range-presets">
            {PRESETS.map((p) => (
              <button
                key={p.token}
                type="button"
                role="menuitem"
                data-range={p.token}
                className={range.kind === "relative" && range.lastMs === p.ms ? "active" : ""}
                onClick={() => choose({ kind: "relative", lastMs: p.ms })}
              >
                {p.label}
              </button>
            ))}
          </div>
          <div className="range-custom">
            <label>
              From <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
            </label>
            <label>
              To <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
            </label>
            <button type="button" onClick={applyCustom}>
              Apply
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

export const RangePicker = memo(RangePickerImpl);
