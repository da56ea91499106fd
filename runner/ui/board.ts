/**
 * The state of every pipeline `pipe ui` shows: each file's plan and computeStatus result, refined
 * by run history (never run, failed) and by what live runs report (queued, running, progress).
 * Recomputed when a file changes or a live run finishes a stage; every change goes to `onGraph`.
 */
import { formatReason } from '../../artifacts/key.js';
import type { ArtifactReader } from '../../artifacts/store.js';
import { UserError } from '../../stages/errors.js';
import type { Plan } from '../config/types.js';
import { formatDiagnostic, PipelineInvalidError } from '../diagnostics.js';
import { lastSuccessful, readRunRecords, type RunRecord } from '../execute/run-records.js';
import { computeStatus, type StageState } from '../execute/status.js';
import { backendChoice, planFile, type CommonFlags } from '../cli/context.js';
import type { GraphPayload, GraphStage, UiProgress } from './api-types.js';

/** What a live run says about one stage, over what the store says. */
export interface LiveStage {
  readonly state: 'queued' | 'running' | 'failed';
  readonly progress?: UiProgress;
  readonly error?: string;
}

export interface Loaded {
  readonly plan: Plan;
  readonly states: ReadonlyMap<string, StageState>;
  readonly records: readonly RunRecord[];
}

/** A load or plan failure, in the words `pipe status` would print (diagnostics with their location). */
export function describeLoadError(error: unknown): string {
  if (error instanceof PipelineInvalidError) return error.diagnostics.map(formatDiagnostic).join('\n\n');
  if (error instanceof UserError) return error.message;
  return `internal error: ${(error as Error | undefined)?.message ?? String(error)}`;
}

export class Board {
  private readonly graphs = new Map<string, GraphPayload>();
  private readonly loaded = new Map<string, Loaded>();
  /** Per pipeline name: the live run's id and its stages' live states. */
  private readonly live = new Map<string, { run: string; stages: Map<string, LiveStage> }>();
  /** Per file: the refresh in flight, and whether another was asked for meanwhile. */
  private readonly refreshing = new Map<string, { done: Promise<void>; again: boolean }>();

  constructor(
    readonly files: readonly string[],
    private readonly root: string,
    private readonly flags: CommonFlags,
    private readonly store: ArtifactReader,
    private readonly onGraph: (graph: GraphPayload) => void,
  ) {}

  graph(file: string): GraphPayload | undefined {
    return this.graphs.get(file);
  }

  all(): GraphPayload[] {
    return this.files.map((f) => this.graphs.get(f)).filter((g): g is GraphPayload => g !== undefined);
  }

  /** The last successful load of `file` (stage panel, sweep). */
  plan(file: string): Loaded | undefined {
    return this.loaded.get(file);
  }

  /** Files whose pipeline has this name. */
  filesOf(pipeline: string): string[] {
    return this.files.filter((f) => this.graphs.get(f)?.pipeline === pipeline);
  }

  /**
   * Recomputes one file's status. Calls while one is in flight coalesce into one more after it, so
   * a burst of edits or stage completions costs at most two computations, and the last one wins.
   */
  refresh(file: string): Promise<void> {
    const current = this.refreshing.get(file);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { done: Promise.resolve(), again: false };
    entry.done = (async () => {
      do {
        entry.again = false;
        await this.compute(file);
      } while (entry.again);
      this.refreshing.delete(file);
    })();
    this.refreshing.set(file, entry);
    return entry.done;
  }

  async refreshAll(): Promise<void> {
    await Promise.all(this.files.map((f) => this.refresh(f)));
  }

  private async compute(file: string): Promise<void> {
    let graph: GraphPayload;
    try {
      const plan = await planFile(file, this.flags);
      const records = await readRunRecords(this.root);
      const previous = lastSuccessful(records, plan.pipeline.name);
      const states = new Map((await computeStatus(plan, this.store, previous, backendChoice(this.flags, plan))).map((s) => [s.stage, s]));
      this.loaded.set(file, { plan, states, records });
      graph = this.render(file, this.loaded.get(file)!);
    } catch (error) {
      this.loaded.delete(file);
      graph = { file, pipeline: this.graphs.get(file)?.pipeline ?? '', error: describeLoadError(error), stages: [], computedAt: Date.now() };
    }
    this.graphs.set(file, graph);
    this.onGraph(graph);
  }

  private render(file: string, { plan, states, records }: Loaded): GraphPayload {
    const live = this.live.get(plan.pipeline.name);
    const stages = plan.stages.map((stage): GraphStage => {
      const s = states.get(stage.name);
      const base = { name: stage.name, group: stage.group, kind: stage.kind, deps: plan.dependencies.get(stage.name) ?? [] };
      const overlay = live?.stages.get(stage.name);
      const key = s?.key;
      const reasons = s?.state === 'stale' ? s.reasons.map(formatReason) : [];
      if (overlay && (overlay.state !== 'failed' || s?.state !== 'fresh')) {
        return { ...base, state: overlay.state, reasons, ...(key ? { key } : {}), ...(overlay.progress ? { progress: overlay.progress } : {}), ...(overlay.error ? { error: overlay.error } : {}) };
      }
      if (!s || s.state === 'fresh') return { ...base, state: 'fresh', reasons: [], ...(key ? { key } : {}) };
      // The last run that had this stage decides between failed and plainly stale.
      const last = records.find((r) => r.pipeline === plan.pipeline.name && stage.name in r.stages)?.stages[stage.name];
      if (last?.status === 'failed') return { ...base, state: 'failed', reasons, ...(key ? { key } : {}), ...(last.error ? { error: last.error } : {}) };
      const everRan = records.some((r) => r.pipeline === plan.pipeline.name && (r.stages[stage.name]?.status === 'ran' || r.stages[stage.name]?.status === 'cached'));
      return { ...base, state: everRan ? 'stale' : 'never-run', reasons, ...(key ? { key } : {}) };
    });
    return { file, pipeline: plan.pipeline.name, stages, ...(live ? { liveRun: live.run } : {}), computedAt: Date.now() };
  }

  /** Re-renders without recomputing status (a live run's overlay changed). */
  private rerender(pipeline: string): void {
    for (const file of this.filesOf(pipeline)) {
      const loaded = this.loaded.get(file);
      if (!loaded) continue;
      const graph = this.render(file, loaded);
      this.graphs.set(file, graph);
      this.onGraph(graph);
    }
  }

  runStarted(pipeline: string, run: string): void {
    this.live.set(pipeline, { run, stages: new Map() });
    this.rerender(pipeline);
  }

  setLive(pipeline: string, run: string, stage: string, state: LiveStage | undefined): void {
    let entry = this.live.get(pipeline);
    if (!entry) this.live.set(pipeline, (entry = { run, stages: new Map() }));
    if (state) entry.stages.set(stage, state);
    else entry.stages.delete(stage);
    this.rerender(pipeline);
  }

  /**
   * Progress only: the stored graphs take it (a page opened now sees it), but nothing is pushed
   * (the caller sends the small progress message instead of whole graphs).
   */
  setProgress(pipeline: string, stage: string, progress: UiProgress): void {
    const live = this.live.get(pipeline);
    const entry = live?.stages.get(stage);
    if (!live || !entry) return;
    live.stages.set(stage, { ...entry, progress });
    for (const file of this.filesOf(pipeline)) {
      const graph = this.graphs.get(file);
      if (graph) this.graphs.set(file, { ...graph, stages: graph.stages.map((s) => (s.name === stage && s.state === entry.state ? { ...s, progress } : s)) });
    }
  }

  runEnded(pipeline: string, run: string): void {
    if (this.live.get(pipeline)?.run === run) this.live.delete(pipeline);
  }

  liveRuns(): string[] {
    return [...this.live.values()].map((l) => l.run);
  }
}
