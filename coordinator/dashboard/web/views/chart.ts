import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

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
        axes: [{}, { values: (_: uPlot, ticks: number[]) => ticks.map(format), size: 70 }],
        scales: { x: { time: true, range: (_u: uPlot, min: number, max: number) => (min === max ? [min - 60, max + 60] : [min, max]) }, y: { range: (_u: uPlot, min: number, max: number) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        cursor: { drag: { x: false, y: false } },
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
