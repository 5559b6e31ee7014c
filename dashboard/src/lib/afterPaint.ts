// Mounting below the fold after the top is on screen: the overview's first chart is painted in a frame
// of its own, before the heatmaps, task bars and resource charts (a dozen more charts) are built.
import { useEffect, useState } from "react";

/** False until the frame after the one in which ``ready`` was first true has been painted, then true
 * for good. */
export function useAfterPaint(ready: boolean): boolean {
  const [after, setAfter] = useState(false);
  useEffect(() => {
    if (!ready || after) return;
    let timer: number | undefined;
    // requestAnimationFrame runs just before a paint; the task queued from it runs after that paint.
    const frame = requestAnimationFrame(() => {
      timer = window.setTimeout(() => setAfter(true), 0);
    });
    return () => {
      cancelAnimationFrame(frame);
      window.clearTimeout(timer);
    };
  }, [ready, after]);
  return after;
}
