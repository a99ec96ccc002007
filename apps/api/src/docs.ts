import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Hono } from "hono";

// The interactive API reference at /docs: Swagger UI from the swagger-ui-dist package,
// served by the API itself from node_modules, so the page works offline and behind a
// firewall (no CDN), and always matches the installed version. No token: it only renders
// the public OpenAPI document; "Authorize" takes a bearer token for "Try it out".

/** The files of swagger-ui-dist the page loads, with their content types. */
const ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/** Where swagger-ui-dist is installed (its package.json has no `exports`, so this resolves). */
function assetsDir(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

function page(specUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>susu API reference</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="${specUrl}"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
}

// A script file rather than an inline one, so a strict Content-Security-Policy (script-src
// 'self') in front of the API does not break the page.
const INIT_SCRIPT = `window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
`;

/**
 * `GET /docs` (the page) and `GET /docs/<asset>` (Swagger UI's files), rendering the document
 * at `specUrl`. Mount with `app.route("/docs", docsRoutes(OPENAPI_PATH))`. Assets are read
 * once, on first request, and cached in memory (about 2 MB).
 */
export function docsRoutes(specUrl: string) {
  const app = new Hono();
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  const html = page(specUrl);
  app.get("/", (c) => c.html(html));
  app.get("/init.js", (c) => c.body(INIT_SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8" }));
  // One route per asset (not a `/:asset` pattern), so any other path is the app's 404.
  for (const [name, type] of Object.entries(ASSETS)) {
    app.get(`/${name}`, async (c) => {
      let bytes = cache.get(name);
      if (bytes === undefined) {
        bytes = new Uint8Array(await readFile(join(assetsDir(), name)));
        cache.set(name, bytes);
      }
      return c.body(bytes, 200, { "content-type": type, "cache-control": "public, max-age=3600" });
    });
  }
  return app;
}
