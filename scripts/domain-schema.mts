// Writes schemas/domain.schema.json from the zod schema of the domain file (src/core/augpe/domain.ts), which is what
// the editor validates a domain file against (package.json `jsonValidation`). test/core/augpe/domain.test.ts checks
// that the committed file matches, so run this after changing the schema:
//   node --import tsx scripts/domain-schema.mts
import { writeFileSync } from 'node:fs';
import { domainJsonSchema } from '../src/core/augpe/domain';

writeFileSync(
  new URL('../schemas/domain.schema.json', import.meta.url),
  JSON.stringify(domainJsonSchema(), null, 2) + '\n',
);
