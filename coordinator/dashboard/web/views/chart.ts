import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const MIN_SPAN_S = 120;
const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

/**
 * The x range from the samples themselves, at least two minutes wide and ending at the latest: a few seconds of
 * samples would get sub-second ticks, and uPlot widens a single sample's range to a whole day.
 */
function xRange(u: uPlot, min: number, max: number): uPlot.Range.MinMax {
  const xs = u.data[0];
  if (!xs.length) return [min, max];
  const last = xs[xs.length - 1];
  return [Math.min(xs[0], last - MIN_SPAN_S), last];
}

export interface ChartSeries {
  label: string;
  stroke: string;
}

/**
 * A uPlot time-series chart. `x` is milliseconds since the epoch; `ys` one column per series. The instance is
 * created once and fed with `setData`, and follows its container's width.
 */
export function Chart({ title, series, x, ys, format }: { title: string; series: ChartSeries[]; x: number[]; ys: number[][]; format(v: number): string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = (): uPlot.AlignedData => [x.map((t) => t / 1000), ...ys];

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 180,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, value: (_: uPlot, v: number | null) => (v == null ? '–' : format(v)) }))],
        // One line per tick label (uPlot's default adds a date line that overlaps at this width).
        axes: [{ values: (_: uPlot, ticks: number[]) => ticks.map((t) => TIME.format(t * 1000)), space: 70 }, { values: (_: uPlot, ticks: number[]) => ticks.map(format), size: 70 }],
        scales: { x: { time: true, range: xRange }, y: { range: (_u: uPlot, min: number, max: number) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        cursor: { drag: { x: false, y: false } },
        // A key of colours only; the caption and the aria-label carry the latest values.
        legend: { live: false },
      },
      data(),
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => plot.current?.setData(data()), [x, ys]);

  const last = x.length ? series.map((s, i) => `${s.label} ${format(ys[i][ys[i].length - 1])}`).join(', ') : 'no data yet';
  return html`<figure class="chart">
    <figcaption>${title} <span class="muted">(${x.length} samples; latest: ${last})</span></figcaption>
    <div ref=${box} class="chart-box" role="img" aria-label=${`${title}, last hour. Latest: ${last}`} data-samples=${x.length}></div>
  </figure>`;
}
