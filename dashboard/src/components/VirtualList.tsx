// A list that renders only the rows in view (plus a margin), for thousands of log lines or history
// entries: rows have one fixed height, so the position of any row is index × height.
import { type ReactNode, useCallback, useRef, useState } from "react";

export interface VirtualListProps<T> {
  items: readonly T[];
  rowHeight: number; // px, every row
  height: number; // px of the scrolling box
  renderRow: (item: T, index: number) => ReactNode;
  overscan?: number; // rows rendered beyond each edge
  className?: string;
}

export function VirtualList<T>({ items, rowHeight, height, renderRow, overscan = 10, className }: VirtualListProps<T>) {
  const [scrollTop, setScrollTop] = useState(0);
  const frame = useRef(0);
  const onScroll = useCallback((e: React.UIEvent<HTMLDivElement>) => {
    const top = e.currentTarget.scrollTop;
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => setScrollTop(top)); // one render per frame at most
  }, []);
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i += 1) {
    rows.push(
      <div key={i} className="vrow" style={{ position: "absolute", top: i * rowHeight, height: rowHeight, left: 0, right: 0 }}>
        {renderRow(items[i] as T, i)}
      </div>,
    );
  }
  return (
    <div className={`vlist ${className ?? ""}`} style={{ height, overflowY: "auto", position: "relative" }} onScroll={onScroll}>
      <div style={{ height: items.length * rowHeight, position: "relative" }} data-rows={items.length}>
        {rows}
      </div>
    </div>
  );
}
