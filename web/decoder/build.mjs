// Builds dist/web/decoder.html and decoder.csp (see scripts/inline-page.mjs). The decoder may
// connect nowhere: `connect-src 'none'`.
import { buildInlinePage } from '../../scripts/inline-page.mjs';

export default function build({ root, outDir }) {
  return buildInlinePage({ root, outDir, name: 'decoder', connectSrc: "'none'" });
}
