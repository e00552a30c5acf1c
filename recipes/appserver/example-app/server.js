// The example app the appserver recipe runs: no dependencies, no build, trixie's own Node.js.
// The recipe's checks ask /healthz for "app ok"; / greets with the version below.
const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");

const VERSION = "1.0";
const port = Number(process.env.PORT || 3000);
const dataDir = process.env.DATA_DIR || "/var/lib/app";

http
  .createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("app ok\n");
      return;
    }
    // Something worth backing up: a visit counter in the data directory.
    const counter = path.join(dataDir, "visits");
    let visits = 0;
    try {
      visits = Number(fs.readFileSync(counter, "utf8")) || 0;
    } catch {}
    fs.writeFileSync(counter, String(visits + 1));
    res
      .writeHead(200, { "content-type": "text/plain" })
      .end(`hello from the app ${VERSION} (visit ${visits + 1})\n`);
  })
  .listen(port, "127.0.0.1");
