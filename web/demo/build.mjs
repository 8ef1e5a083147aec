// Builds dist/web/demo.html and demo.csp (see scripts/inline-page.mjs): the demo at `/` of
// `latchkey serve`, bundling src/client and the decoder's decode function. It talks to its
// own origin only: `connect-src 'self'`. Its one image is the TOTP QR code, an SVG shown as a
// `data:` URL in an <img> (no script runs in an image; Trusted Types forbid inserting markup):
// `img-src data:`.
import { buildInlinePage } from '../../scripts/inline-page.mjs';

export default function build({ root, outDir }) {
  return buildInlinePage({ root, outDir, name: 'demo', connectSrc: "'self'", imgSrc: 'data:' });
}
