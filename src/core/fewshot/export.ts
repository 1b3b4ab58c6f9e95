/**
 * Exports of DP few-shot demonstrations. Every export renders a Release (src/core/release.ts), the one type of what
 * may leave the machine: build it with fewShotRelease(), render it with renderRelease(). There is deliberately no
 * way to render demonstrations together with a run report here: the report holds local diagnostics.
 */
export {
  DEFAULT_TEMPLATE,
  RELEASE_FORMATS as EXPORT_FORMATS,
  checkTemplate,
  renderRelease,
  type ReleaseFormat as ExportFormat,
} from '../release';

export interface Demonstration {
  label: string;
  text: string;
}
