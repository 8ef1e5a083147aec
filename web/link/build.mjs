// Builds dist/web/link.html and link.csp (see scripts/inline-page.mjs): the page behind the
// links in reset and verification mails, served at /auth/reset-password and /auth/verify-email.
// It reads the token from the URL fragment, takes it out of the address bar, and sends it only
// in the POST its button makes: `default-src 'none'`, `connect-src 'self'`.
import { buildInlinePage } from '../../scripts/inline-page.mjs';

export default function build({ root, outDir }) {
  return buildInlinePage({ root, outDir, name: 'link', connectSrc: "'self'", defaultSrc: "'none'" });
}
