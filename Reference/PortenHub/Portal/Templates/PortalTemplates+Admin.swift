extension PortalTemplates {
    static let adminFleet = """
        <h1>Fleet</h1>
        <p class="muted">{{connected}} node(s) connected · demand window {{demandWindow}} s</p>
        {{^nodes}}<p>No node is connected.</p>{{/nodes}}
        <div class="grid">
        {{#nodes}}
        <section class="card node">
          <h2>{{name}} <span class="muted mono">{{id}}</span></h2>
          <p>{{region}} · {{trustClass}} · {{inFlight}}/{{concurrency}} in flight</p>
          <p>VRAM {{vramUsed}} MB{{#vramBudget}} of {{vramBudget}} MB{{/vramBudget}}</p>
          {{#vramBudget}}<progress max="{{vramBudget}}" value="{{vramUsed}}" aria-label="VRAM used on {{name}}"></progress>{{/vramBudget}}
          <ul class="models">
          {{#models}}<li><span class="mono">{{id}}</span> <span class="tag state-{{state}}">{{state}}{{#pct}} {{pct}}%{{/pct}}</span> {{vram}} MB{{#inFlight}} · {{inFlight}} in flight{{/inFlight}}</li>{{/models}}
          </ul>
          {{#ejected}}<p class="error">Out of rotation: {{.}}</p>{{/ejected}}
        </section>
        {{/nodes}}
        </div>
        <section>
        <h2>Loads in progress</h2>
        {{^loads}}<p class="muted">None.</p>{{/loads}}
        <ul>{{#loads}}<li><span class="mono">{{model}}</span> on {{node}}: {{phase}} {{pct}}% <progress max="100" value="{{pct}}"></progress></li>{{/loads}}</ul>
        <h2>Demand and queues</h2>
        {{^demand}}<p class="muted">No requests in the window.</p>{{/demand}}
        <ul>{{#demand}}<li><span class="mono">{{model}}</span>: {{requests}} request(s){{#queued}}, {{queued}} queued (longest {{longestWaitMS}} ms){{/queued}}</li>{{/demand}}</ul>
        </section>
        """

    static let adminCatalog = """
        <h1>Catalog</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <div class="table-wrap">
        <table>
          <thead><tr><th>Model</th><th>Type</th><th class="num">VRAM MB</th><th class="num">Disk MB</th><th class="num">Context</th><th>Capabilities</th><th>Offered</th></tr></thead>
          <tbody>
          {{#models}}
          <tr{{^enabled}} class="revoked"{{/enabled}}>
            <td class="mono">{{id}}</td><td>{{type}}</td><td class="num">{{vram}}</td><td class="num">{{disk}}</td><td class="num">{{ctx}}</td>
            <td>{{#capabilities}}<span class="tag">{{.}}</span> {{/capabilities}}</td>
            <td>
              <form method="post" action="/admin/catalog">
                <input type="hidden" name="csrf" value="{{csrf}}">
                <input type="hidden" name="model" value="{{id}}">
                {{#enabled}}<input type="hidden" name="enabled" value="false"><button type="submit" class="secondary" aria-label="Disable {{id}}">Enabled · disable</button>{{/enabled}}
                {{^enabled}}<input type="hidden" name="enabled" value="true"><button type="submit" aria-label="Enable {{id}}">Disabled · enable</button>{{/enabled}}
              </form>
            </td>
          </tr>
          {{/models}}
          </tbody>
        </table>
        </div>
        """

    static let adminNodes = """
        <h1>Nodes</h1>
        <div class="table-wrap">
        <table>
          <thead><tr><th>Name</th><th>Id</th><th>Account</th><th>Region</th><th>Trust class</th><th>Connected</th><th class="num">In flight</th><th>Models</th></tr></thead>
          <tbody>
          {{#nodes}}
          <tr{{#revoked}} class="revoked"{{/revoked}}>
            <td>{{name}}</td><td class="mono">{{id}}</td><td>{{account}}</td><td>{{region}}</td><td>{{trustClass}}</td>
            <td>{{#revoked}}revoked{{/revoked}}{{^revoked}}{{#connected}}<span class="tag state-ready">connected</span>{{/connected}}{{^connected}}<span class="muted">offline</span>{{/connected}}{{/revoked}}</td>
            <td class="num">{{inFlight}}</td>
            <td>{{#models}}<span class="tag">{{.}}</span> {{/models}}</td>
          </tr>
          {{/nodes}}
          </tbody>
        </table>
        </div>
        {{^nodes}}<p>No nodes yet. Add one with <code>porten admin nodes add</code>.</p>{{/nodes}}
        """

    static let adminAccounts = """
        <h1>Accounts and users</h1>
        {{#created}}
        <section class="card created">
          <h2>User {{email}} created</h2>
          <p>Send them this one-time link to set their password (valid 7 days):</p>
          <div class="copy-row">
            <input id="set-password-link" class="mono" type="text" readonly value="{{link}}" aria-label="Set-password link">
            <button type="button" data-copy="set-password-link">Copy</button>
          </div>
        </section>
        {{/created}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        {{#accounts}}
        <section class="card">
          <h2>{{name}} <span class="muted mono">{{id}}</span>{{#disabled}} <span class="tag">disabled</span>{{/disabled}}</h2>
          <p class="muted">{{keys}} key(s) · {{nodes}} node(s)</p>
          {{#hasUsers}}
          <div class="table-wrap">
          <table>
            <thead><tr><th>User</th><th>Email</th><th>Role</th><th>Password</th></tr></thead>
            <tbody>
            {{#users}}<tr><td>{{displayName}}{{#isOperator}} <span class="tag">operator</span>{{/isOperator}}</td><td>{{email}}</td><td>{{role}}</td><td>{{#hasPassword}}set{{/hasPassword}}{{^hasPassword}}<span class="muted">link sent</span>{{/hasPassword}}</td></tr>{{/users}}
            </tbody>
          </table>
          </div>
          {{/hasUsers}}
        </section>
        {{/accounts}}
        <section class="card">
        <h2>Add a user</h2>
        <form method="post" action="/admin/users" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label>Email <input type="email" name="email" required></label>
          <label>Name <input type="text" name="display_name" maxlength="200" placeholder="from the email"></label>
          <label>Account
            <select name="account_id">
              <option value="">A new account of their own</option>
              {{#accounts}}<option value="{{id}}">{{name}}</option>{{/accounts}}
            </select>
          </label>
          <label>Role
            <select name="role"><option value="">owner of a new account, member of an existing one</option><option value="member">member</option><option value="owner">owner</option></select>
          </label>
          <label class="choice"><input type="checkbox" name="operator" value="1"> Operator (sees these pages)</label>
          <button type="submit">Add user</button>
        </form>
        </section>
        """
}
