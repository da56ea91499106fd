/** Robustness section: accuracy per model and per perturbation, as a heatmap and a sortable table. */
import type { RobustnessFile } from '../robustness/format.js';
import type { InputArtifact } from '../types.js';
import { baseLayout, esc, num, plotDiv, plotText, table, type Section } from './html.js';

export interface RobustnessView {
  readonly artifact: InputArtifact;
  readonly file: RobustnessFile;
  /** The model name, or the stage name when several artifacts share a model. */
  readonly label: string;
}

export function robustnessSection(views: readonly RobustnessView[]): Section {
  // Columns: every result name, in the order first seen (clean first, as the stage writes it).
  const names: string[] = [];
  for (const v of views) for (const r of v.file.results) if (!names.includes(r.name)) names.push(r.name);
  const accuracy = (v: RobustnessView, name: string): number | null => v.file.results.find((r) => r.name === name)?.accuracy ?? null;
  const figure = {
    id: 'fig-robustness',
    data: [
      {
        type: 'heatmap',
        x: names.map(plotText),
        y: views.map((v) => plotText(v.label)),
        z: views.map((v) => names.map((n) => accuracy(v, n))),
        texttemplate: '%{z:.1%}',
        hovertemplate: '%{y} · %{x}: %{z:.2%}<extra></extra>',
        // Red (low) → green (high), fixed to [0,1] so reports compare at a glance.
        colorscale: [[0, '#b2182b'], [0.5, '#fddbc7'], [0.8, '#d9f0d3'], [1, '#1b7837']],
        zmin: 0,
        zmax: 1,
        colorbar: { title: { text: 'accuracy' }, tickformat: '.0%' },
        xgap: 1,
        ygap: 1,
      },
    ],
    layout: baseLayout('Accuracy per perturbation', {
      height: Math.max(260, 90 + 34 * views.length),
      margin: { l: 130, r: 20, t: 40, b: 60 },
      xaxis: { type: 'category', automargin: true },
      yaxis: { type: 'category', autorange: 'reversed', automargin: true },
    }),
  };
  const perturbed = names.filter((n) => n !== 'clean');
  const rows = views.map((v) => {
    const clean = accuracy(v, 'clean');
    const scores = perturbed.map((n) => accuracy(v, n)).filter((a): a is number => a !== null);
    const worst = scores.length ? Math.min(...scores) : null;
    return [
      v.label,
      v.artifact.stage,
      ...names.map((n) => num(accuracy(v, n))),
      num(worst),
      // Rounded like the accuracies, so the sort key carries no float noise (0.83 − 0.166 = 0.66399…).
      num(clean !== null && worst !== null ? Number((clean - worst).toFixed(4)) : null),
    ];
  });
  const counts = views[0]?.file.results.map((r) => `${r.name} ${String(r.count)}`).join(', ') ?? '';
  const html = [
    '<p class="muted">Accuracy on fixed perturbations of the first test images (stages/robustness.ts), and on seeded photo-like renderings of them ' +
      `taken through <code>pipe predict</code>'s preprocessing (<i>photos</i>). Images scored: ${esc(counts)}.</p>`,
    plotDiv(figure.id, 'plot'),
    table(['name', 'robustness stage', ...names, 'worst', 'clean − worst'], rows, { sortable: true, id: 'robustness-table' }),
  ].join('\n');
  return { id: 'robustness', title: 'Robustness', html, figures: [figure] };
}
