/** Aug-PE (Private Evolution for text, Xie et al., ICML 2024): see docs/AUGPE.md. */
export {
  METRICS,
  nearestNeighbours,
  privatizeHistogram,
  rankSelect,
  toMatrix,
  voteHistograms,
  type Matrix,
  type Metric,
  type VoteGroup,
} from './histogram';
export {
  PERSONAS,
  STYLES,
  VARIATION_KINDS,
  cleanOutput,
  humanizeLabel,
  maskWords,
  randomApiRequest,
  targetLength,
  variationRequest,
  type PromptSettings,
  type VariationKind,
} from './prompts';
export {
  DEFAULT_DOMAIN,
  DOMAIN_FILE,
  DomainSchema,
  domainDeclaration,
  domainTemplate,
  ensureDomainFile,
  loadDomain,
  parseDomain,
  resolveDomain,
  type Domain,
  type DomainFile,
} from './domain';
export { lookaheadMean } from './lookahead';
export { SELECTIONS, probSelect, selectCandidates, type Selection } from './select';
export {
  AUGPE_DEFAULTS,
  LOOKAHEAD_MAX,
  allocateCounts,
  releaseClassCounts,
  runSpecs,
  planAugPe,
  prepareAugPe,
  promptSettings,
  type AugPeEstimate,
  type AugPeLabelPlan,
  type AugPePlan,
  type AugPeSettings,
  type PreparedAugPe,
  type ResolvedAugPeSettings,
} from './plan';
export {
  runAugPe,
  type AugPeProgress,
  type AugPeReport,
  type AugPeResult,
  type AugPeRunOptions,
  type SyntheticRecord,
} from './run';
