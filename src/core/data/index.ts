export {
  loadDataset,
  canonicalRecords,
  type CanonicalRecord,
  type Dataset,
  type Example,
  type LoadOptions,
  type DatasetIdentity,
  type SkippedRow,
} from './load';
export { summarize, type DatasetSummary } from './summary';
export { formatOf, type Format } from './parse';
export { DEFAULT_MAX_BYTES } from './read';
