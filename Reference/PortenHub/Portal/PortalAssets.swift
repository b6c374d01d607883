import Hummingbird

/// The portal's static files, compiled into the binary and served from `/static/…` (no CDN).
enum PortalAssets {
    static let files: [String: (type: String, text: String)] = [
        "portal.css": ("text/css; charset=utf-8", css),
        "portal.js": ("text/javascript; charset=utf-8", portalScript),
        "playground.js": ("text/javascript; charset=utf-8", playgroundScript),
    ]

    static func serve(_ request: Request, context: HubRequestContext) throws -> Response {
        let name = try context.parameters.require("file")
        guard let file = files[name] else { throw PageError(status: .notFound, message: "No such file.", code: "not_found") }
        var headers = PortalPages.securityHeaders
        headers[.contentType] = file.type
        headers[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: file.text)))
    }

    static let css = """
        :root { --ink: #1b1f24; --muted: #5b6470; --line: #d9dee4; --bg: #f6f7f9; --card: #fff; --accent: #2856d6; --danger: #b42318; --ok: #12734a; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
        header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.25rem; padding: .75rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
        .brand { font-weight: 700; color: var(--ink); text-decoration: none; font-size: 1.1rem; }
        nav { display: flex; flex-wrap: wrap; gap: .25rem .9rem; flex: 1; }
        nav a { color: var(--muted); text-decoration: none; padding: .15rem 0; }
        nav a[aria-current=page] { color: var(--ink); border-bottom: 2px solid var(--accent); }
        .signout { display: flex; align-items: center; gap: .5rem; margin: 0; }
        .who { color: var(--muted); font-size: .9rem; max-width: 16rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
        .narrow { max-width: 26rem; margin: 2rem auto; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 0 0 1rem; }
        .created { border-color: var(--ok); }
        .stack { display: flex; flex-direction: column; gap: .8rem; }
        .row { display: flex; flex-wrap: wrap; gap: .8rem; }
        .row > label { flex: 1 1 10rem; }
        label { display: flex; flex-direction: column; gap: .25rem; font-weight: 500; }
        label.choice { flex-direction: row; align-items: center; gap: .4rem; font-weight: 400; }
        .choices { display: flex; flex-wrap: wrap; gap: .3rem 1rem; }
        fieldset { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .8rem .8rem; margin: 0; min-width: 0; }
        label, h1, h2, p, li { overflow-wrap: anywhere; }
        legend { font-weight: 500; padding: 0 .3rem; }
        input, select, textarea { font: inherit; padding: .45rem .55rem; border: 1px solid #b9c1cb; border-radius: 6px; background: #fff; width: 100%; min-width: 0; }
        input[type=checkbox] { width: auto; }
        textarea { resize: vertical; }
        button { font: inherit; padding: .45rem 1rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
        button.secondary { background: #fff; color: var(--accent); }
        button.danger { background: #fff; color: var(--danger); border-color: var(--danger); padding: .2rem .6rem; }
        button.link { background: none; border: none; color: var(--accent); padding: 0; }
        button:disabled { opacity: .6; cursor: progress; }
        .error { color: var(--danger); background: #fdf0ef; border: 1px solid #f3c7c2; border-radius: 6px; padding: .5rem .75rem; }
        .notice { color: var(--ok); background: #eefaf3; border: 1px solid #bfe8d2; border-radius: 6px; padding: .5rem .75rem; }
        .muted, .hint { color: var(--muted); }
        .hint { margin: 0 0 .4rem; font-size: .9rem; }
        .mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9rem; }
        pre { background: #f0f2f5; padding: .75rem; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
        .copy-row { display: flex; gap: .5rem; }
        .table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 1rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .5rem .7rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; font-size: .9rem; color: var(--muted); white-space: nowrap; }
        td form { margin: 0; }
        .table-wrap td { white-space: nowrap; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.revoked td { color: var(--muted); text-decoration: line-through; }
        tr.revoked td:last-child { text-decoration: none; }
        .tag { display: inline-block; font-size: .8rem; padding: 0 .45rem; border-radius: 999px; background: #eef1f5; border: 1px solid var(--line); white-space: nowrap; }
        .state-ready { background: #eefaf3; border-color: #bfe8d2; color: var(--ok); }
        .stats { display: flex; flex-wrap: wrap; gap: 1.5rem; margin-bottom: 1rem; }
        .stat { font-size: 1.5rem; font-weight: 700; display: block; }
        .chart { margin: 0 0 1rem; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem; }
        .chart svg { width: 100%; height: 12rem; display: block; }
        .chart .bar { fill: var(--accent); }
        figcaption { color: var(--muted); font-size: .9rem; margin-top: .4rem; }
        progress { width: 100%; height: 1rem; accent-color: var(--accent); }
        .answer { white-space: pre-wrap; min-height: 2rem; }
        .reasoning .answer { color: var(--muted); font-style: italic; }
        .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); gap: 1rem; }
        ul.models { padding-left: 1.1rem; }
        @media (max-width: 480px) { main { padding: .6rem; } .who { display: none; } h1 { font-size: 1.35rem; } }
        """

    static let portalScript = """
        // Copy buttons: <button data-copy="element-id">.
        document.querySelectorAll("[data-copy]").forEach((button) => {
          button.addEventListener("click", async () => {
            const target = document.getElementById(button.dataset.copy);
            const text = target.value !== undefined ? target.value : target.textContent;
            try { await navigator.clipboard.writeText(text); } catch (e) { target.select && target.select(); document.execCommand("copy"); }
            const label = button.textContent;
            button.textContent = "Copied";
            setTimeout(() => { button.textContent = label; }, 1500);
          });
        });
        """

    static let playgroundScript = """
        // The playground: streams an answer from /build/api/chat/completions (the account's
        // playground key, session and CSRF token), shows a cold model's load as a progress bar
        // from /public/v1/models/warming, and writes the same request as a curl command.
        (() => {
          const form = document.getElementById("playground");
          const csrf = document.querySelector('meta[name="csrf-token"]').content;
          const $ = (id) => document.getElementById(id);
          const answer = $("pg-answer"), reasoning = $("pg-reasoning"), reasoningBox = $("pg-reasoning-box");
          const warming = $("pg-warming"), progress = $("pg-progress"), warmingLabel = $("pg-warming-label");
          const errorBox = $("pg-error"), meta = $("pg-meta"), send = $("pg-send"), curlBox = $("pg-curl");

          function request() {
            const messages = [];
            const system = $("pg-system").value.trim();
            if (system) messages.push({ role: "system", content: system });
            messages.push({ role: "user", content: $("pg-message").value });
            const body = { model: $("pg-model").value, messages, stream: true };
            const temperature = parseFloat($("pg-temperature").value);
            if (!Number.isNaN(temperature)) body.temperature = temperature;
            const maxTokens = parseInt($("pg-max-tokens").value, 10);
            if (!Number.isNaN(maxTokens)) body.max_tokens = maxTokens;
            return body;
          }

          function curl(body) {
            const json = JSON.stringify(body).replace(/'/g, "'\\\\''");
            return "curl -sN " + form.dataset.baseUrl + "/chat/completions \\\\\\n" +
              '  -H "Authorization: Bearer $PORTEN_API_KEY" \\\\\\n' +
              "  -H 'Content-Type: application/json' \\\\\\n" +
              "  -d '" + json + "'";
          }
          const showCurl = () => { curlBox.textContent = curl(request()); };
          form.addEventListener("input", showCurl);
          showCurl();
          $("pg-copy-curl").addEventListener("click", async () => {
            showCurl();
            try { await navigator.clipboard.writeText(curlBox.textContent); $("pg-copy-curl").textContent = "Copied"; } catch (e) {}
            setTimeout(() => { $("pg-copy-curl").textContent = "Copy as curl"; }, 1500);
          });

          function watchWarming(model) {
            let stopped = false;
            const poll = async () => {
              while (!stopped) {
                try {
                  const r = await fetch("/public/v1/models/warming?model=" + encodeURIComponent(model));
                  if (r.ok) {
                    const s = await r.json();
                    if (stopped) break;
                    if (s.ready) { warming.hidden = true; }
                    else {
                      warming.hidden = false;
                      progress.value = s.pct;
                      warming.dataset.phase = s.phase;
                      warmingLabel.textContent = s.phase === "cold" ? "Waiting for a node to start loading " + model + "…"
                        : (s.phase === "downloading" ? "Downloading " : "Loading ") + model + ": " + s.done_mb + " of " + s.total_mb + " MB (" + s.pct + "%)";
                    }
                  }
                } catch (e) {}
                await new Promise((resolve) => setTimeout(resolve, 250));
              }
            };
            poll();
            return () => { stopped = true; };
          }

          form.addEventListener("submit", async (event) => {
            event.preventDefault();
            const body = request();
            showCurl();
            answer.textContent = ""; reasoning.textContent = ""; reasoningBox.hidden = true;
            errorBox.hidden = true; meta.textContent = ""; send.disabled = true;
            form.dataset.state = "running";
            const stopWatching = watchWarming(body.model);
            const started = performance.now();
            try {
              const response = await fetch("/build/api/chat/completions", {
                method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
              });
              if (!response.ok) {
                let message = "HTTP " + response.status;
                try { message = (await response.json()).error.message; } catch (e) {}
                throw new Error(message);
              }
              const reader = response.body.getReader();
              const decoder = new TextDecoder();
              let buffer = "", finish = null, usage = null, first = true;
              for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                buffer += decoder.decode(value, { stream: true });
                let newline;
                while ((newline = buffer.indexOf("\\n")) >= 0) {
                  const line = buffer.slice(0, newline).replace(/\\r$/, "");
                  buffer = buffer.slice(newline + 1);
                  if (!line.startsWith("data:")) continue;
                  const data = line.slice(5).trim();
                  if (data === "[DONE]") continue;
                  const chunk = JSON.parse(data);
                  if (chunk.error) throw new Error(chunk.error.message);
                  if (first) { first = false; stopWatching(); warming.hidden = true; }
                  if (chunk.usage) usage = chunk.usage;
                  for (const choice of chunk.choices || []) {
                    const delta = choice.delta || {};
                    const thought = delta.reasoning_content || delta.reasoning;
                    if (thought) { reasoningBox.hidden = false; reasoning.textContent += thought; }
                    if (delta.content) answer.textContent += delta.content;
                    if (choice.finish_reason) finish = choice.finish_reason;
                  }
                }
              }
              const seconds = ((performance.now() - started) / 1000).toFixed(1);
              meta.textContent = "finish: " + (finish || "none") + " · " + seconds + " s" +
                (usage ? " · " + usage.prompt_tokens + " prompt + " + usage.completion_tokens + " completion tokens" : "") +
                " · node " + (response.headers.get("X-Porten-Node") || "?");
              form.dataset.state = "done";
            } catch (error) {
              errorBox.textContent = error.message;
              errorBox.hidden = false;
              form.dataset.state = "failed";
            } finally {
              stopWatching();
              warming.hidden = true;
              send.disabled = false;
            }
          });
        })();
        """
}
