extension PortalTemplates {
    static let keys = """
        <h1>API keys</h1>
        {{#created}}
        <section class="card created" aria-labelledby="created-heading">
          <h2 id="created-heading">Your new key “{{name}}”</h2>
          <p><strong>Copy it now: it is not shown again.</strong> Porten keeps only its hash.</p>
          <div class="copy-row">
            <input id="new-key" class="mono" type="text" readonly value="{{key}}" aria-label="New API key">
            <button type="button" data-copy="new-key">Copy</button>
          </div>
          <p>Use it with any OpenAI SDK:</p>
          <pre class="mono" id="sdk-snippet">from openai import OpenAI
        client = OpenAI(base_url="{{baseURL}}", api_key="{{key}}")</pre>
        </section>
        {{/created}}
        <section aria-labelledby="your-keys">
        <h2 id="your-keys">Your keys</h2>
        {{^keys}}<p class="muted">No keys yet. Create one below.</p>{{/keys}}
        {{#hasKeys}}
        <div class="table-wrap">
        <table>
          <thead><tr><th>Name</th><th>Key</th><th>Policy</th><th>Created</th><th></th></tr></thead>
          <tbody>
          {{#keys}}
          <tr{{#revoked}} class="revoked"{{/revoked}}>
            <td>{{name}}</td>
            <td class="mono">{{prefix}}</td>
            <td>{{#policy}}<span class="tag">{{.}}</span> {{/policy}}{{^policy}}<span class="muted">any node</span>{{/policy}}</td>
            <td>{{created}}</td>
            <td>{{#revoked}}revoked {{revokedAt}}{{/revoked}}{{^revoked}}
              <form method="post" action="/build/keys/{{id}}/revoke">
                <input type="hidden" name="csrf" value="{{csrf}}">
                <button type="submit" class="danger" aria-label="Revoke {{name}}">Revoke</button>
              </form>{{/revoked}}</td>
          </tr>
          {{/keys}}
          </tbody>
        </table>
        </div>
        {{/hasKeys}}
        </section>
        <section class="card" aria-labelledby="create-key">
        <h2 id="create-key">Create a key</h2>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/build/keys" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label>Name <input type="text" name="name" value="{{form.name}}" required maxlength="200" placeholder="my-app"></label>
          <fieldset>
            <legend>Regions</legend>
            <p class="hint">Requests run only on nodes in the checked regions. None checked: any region.</p>
            <div class="choices">
            {{#regions}}<label class="choice"><input type="checkbox" name="region" value="{{value}}"{{#checked}} checked{{/checked}}> {{label}}</label>{{/regions}}
            </div>
          </fieldset>
          <label class="choice"><input type="checkbox" name="own_nodes_only" value="1"{{#form.ownNodesOnly}} checked{{/form.ownNodesOnly}}> My nodes only</label>
          <label>Minimum trust class
            <select name="min_trust_class">
              {{#trustClasses}}<option value="{{value}}"{{#checked}} selected{{/checked}}>{{label}}</option>{{/trustClasses}}
            </select>
          </label>
          <fieldset>
            <legend>Models</legend>
            <p class="hint">The key may use only the checked models. None checked: every model.</p>
            <div class="choices">
            {{#models}}<label class="choice"><input type="checkbox" name="model" value="{{value}}"{{#checked}} checked{{/checked}}> {{label}}</label>{{/models}}
            </div>
          </fieldset>
          <div class="row">
            <label>Requests per minute <input type="number" name="requests_per_minute" min="1" max="1000000" value="{{form.rpm}}" placeholder="no limit"></label>
            <label>Tokens per minute <input type="number" name="tokens_per_minute" min="1" max="1000000000" value="{{form.tpm}}" placeholder="no limit"></label>
          </div>
          <button type="submit">Create key</button>
        </form>
        </section>
        """

    static let playground = """
        <h1>Playground</h1>
        <form id="playground" class="stack playground" data-base-url="{{baseURL}}">
          <div class="row">
            <label>Model
              <select name="model" id="pg-model">
                {{#models}}<option value="{{value}}"{{#checked}} selected{{/checked}}>{{label}}</option>{{/models}}
              </select>
            </label>
            <label>Temperature <input type="number" name="temperature" id="pg-temperature" min="0" max="2" step="0.1" value="0.7"></label>
            <label>Max tokens <input type="number" name="max_tokens" id="pg-max-tokens" min="1" max="32768" value="256"></label>
          </div>
          <label>System prompt <textarea name="system" id="pg-system" rows="2" placeholder="You are a helpful assistant."></textarea></label>
          <label>Message <textarea name="message" id="pg-message" rows="4" required>Hello! What can you do?</textarea></label>
          <div class="row actions">
            <button type="submit" id="pg-send">Send</button>
            <button type="button" id="pg-copy-curl" class="secondary">Copy as curl</button>
          </div>
        </form>
        <section id="pg-warming" class="card" hidden aria-live="polite">
          <p id="pg-warming-label">Loading the model…</p>
          <progress id="pg-progress" max="100" value="0"></progress>
        </section>
        <p id="pg-error" class="error" role="alert" hidden></p>
        <section id="pg-reasoning-box" class="card reasoning" hidden>
          <h2>Reasoning</h2>
          <div id="pg-reasoning" class="answer"></div>
        </section>
        <section class="card">
          <h2>Answer</h2>
          <div id="pg-answer" class="answer" aria-live="polite"></div>
          <p id="pg-meta" class="muted"></p>
        </section>
        <section class="card">
          <h2>As a request</h2>
          <p class="hint">Set <code>PORTEN_API_KEY</code> to one of your <a href="/build/keys">keys</a>, then run:</p>
          <pre id="pg-curl" class="mono"></pre>
        </section>
        """

    static let usage = """
        <h1>Usage</h1>
        <p class="muted">Your account, the last {{days}} days (UTC), every key including the playground's.</p>
        <div class="stats">
          <div><span class="stat">{{totals.requests}}</span> requests</div>
          <div><span class="stat">{{totals.promptTokens}}</span> prompt tokens</div>
          <div><span class="stat">{{totals.completionTokens}}</span> completion tokens</div>
          <div><span class="stat" id="total-cost">{{totals.cost}}</span> cost ({{currency}})</div>
        </div>
        {{#hasData}}
        <figure class="chart">
          <svg viewBox="0 0 {{chart.width}} {{chart.height}}" role="img" aria-label="Tokens per day" preserveAspectRatio="none">
            {{#chart.bars}}<rect x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}" class="bar"><title>{{day}}: {{tokens}} tokens, {{requests}} requests</title></rect>{{/chart.bars}}
          </svg>
          <figcaption>Tokens per day, {{chart.first}} to {{chart.last}} (highest: {{chart.max}})</figcaption>
        </figure>
        <div class="table-wrap">
        <table>
          <thead><tr><th>Day</th><th>Model</th><th class="num">Requests</th><th class="num">Prompt tokens</th><th class="num">Completion tokens</th><th class="num">Cost ({{currency}})</th></tr></thead>
          <tbody>
          {{#rows}}<tr><td>{{day}}</td><td>{{model}}</td><td class="num">{{requests}}</td><td class="num">{{promptTokens}}</td><td class="num">{{completionTokens}}</td><td class="num">{{cost}}</td></tr>{{/rows}}
          </tbody>
        </table>
        </div>
        {{/hasData}}
        {{^hasData}}<p>No requests yet. Try the <a href="/build/playground">playground</a>.</p>{{/hasData}}
        """
}
