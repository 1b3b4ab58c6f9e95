// The version comes from package.json (inlined by esbuild; read directly under tsx in tests).
import pkg from '../../package.json';

export const TOOL_NAME = 'private-fewshot';
export const TOOL_VERSION: string = pkg.version;
