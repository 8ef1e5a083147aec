// Builds dist/web/admin.html and admin.csp (see scripts/inline-page.mjs): the admin page at
// `/admin` of `latchkey serve` (docs/admin.md#admin-page), bundling src/client. It talks to its
// own origin only — the auth API to sign in, the admin API for everything else: `default-src
// 'none'`, `connect-src 'self'`.
import { buildInlinePage } from '../../scripts/inline-page.mjs';

export default function build({ root, outDir }) {
  return buildInlinePage({ root, outDir, name: 'admin', connectSrc: "'self'", defaultSrc: "'none'" });
}
