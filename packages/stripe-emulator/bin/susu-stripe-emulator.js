#!/usr/bin/env node
// The CLI is compiled to dist/cli.js by `npm run build`; this file stays executable in git.
import "../dist/cli.js";
