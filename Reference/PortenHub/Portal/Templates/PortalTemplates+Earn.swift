extension PortalTemplates {
    static let earn = """
        <h1>Earn</h1>
        <p class="muted">Your account's nodes. Serving is metered per token.</p>
        {{^hasNodes}}<p>No node yet. Add your first one below.</p>{{/hasNodes}}
        {{#hasNodes}}
        <div class="table-wrap">
        <table>
          <thead><tr><th>Node</th><th>Status</th><th>Region</th><th>Trust class</th><th>Engine</th><th>Models loaded</th><th class="num">Serving</th><th class="num">Tokens today</th><th class="num">Tokens this month</th></tr></thead>
          <tbody>
          {{#nodes}}
          <tr>
            <td>{{name}} <span class="muted mono">{{id}}</span></td>
            <td>{{#online}}<span class="tag state-ready">online</span>{{/online}}{{^online}}<span class="muted">offline</span>{{/online}}</td>
            <td>{{region}}</td><td>{{trustClass}}</td><td>{{engine}}</td>
            <td>{{#models}}<span class="tag">{{.}}</span> {{/models}}</td>
            <td class="num">{{inFlight}}</td><td class="num">{{today}}</td><td class="num">{{month}}</td>
          </tr>
          {{/nodes}}
          </tbody>
        </table>
        </div>
        {{/hasNodes}}
        <section aria-labelledby="earnings">
          <h2 id="earnings">Earnings</h2>
          <div class="stats">
            <div><span class="stat" id="balance">{{balance}}</span> balance ({{currency}})</div>
            <div><span class="stat">{{monthEarnings}}</span> earned this month</div>
          </div>
          {{^hasEarnings}}<p class="muted">No earnings in the last 30 days.</p>{{/hasEarnings}}
          {{#hasEarnings}}
          <div class="table-wrap">
          <table>
            <thead><tr><th>Day</th><th>Node</th><th>Model</th><th class="num">Earned ({{currency}})</th></tr></thead>
            <tbody>{{#earnings}}<tr><td>{{day}}</td><td>{{node}}</td><td>{{model}}</td><td class="num">{{amount}}</td></tr>{{/earnings}}</tbody>
          </table>
          </div>
          {{/hasEarnings}}
        </section>
        <section class="card" aria-labelledby="payouts">
          <h2 id="payouts">Payouts</h2>
          {{#payoutError}}<p class="error" role="alert">{{payoutError}}</p>{{/payoutError}}
          {{#payoutSaved}}<p class="notice" role="status">Payout account saved.</p>{{/payoutSaved}}
          <form method="post" action="/earn/payout-account" class="stack">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <div class="row">
              <label>Account holder <input type="text" name="holder" value="{{payoutAccount.holder}}" maxlength="70" required></label>
              <label>IBAN <input type="text" name="iban" value="{{payoutAccount.iban}}" maxlength="42" required autocomplete="off"></label>
              <label>BIC <input type="text" name="bic" value="{{payoutAccount.bic}}" maxlength="11" required autocomplete="off"></label>
            </div>
            <button type="submit">Save payout account</button>
          </form>
          {{#hasPayouts}}
          <div class="table-wrap">
          <table>
            <thead><tr><th>Period</th><th class="num">Amount ({{currency}})</th><th>To</th><th>Status</th></tr></thead>
            <tbody>{{#payoutHistory}}<tr><td>{{period}}</td><td class="num">{{amount}}</td><td class="mono">{{iban}}</td><td>{{status}}</td></tr>{{/payoutHistory}}</tbody>
          </table>
          </div>
          {{/hasPayouts}}
          {{^hasPayouts}}<p class="muted">No payouts yet. They run monthly for earnings above the operator's minimum.</p>{{/hasPayouts}}
        </section>
        <section class="card">
          <h2>Add a node</h2>
          <p>On the machine (Linux or macOS), one line installs the agent, asks you to approve it here, and starts the service:</p>
          <pre class="mono" id="install-command">curl -fsSL {{base}}/install.sh | sh</pre>
          <p>Or, with the agent already installed:</p>
          <pre class="mono">porten login --hub {{base}}
        porten service install</pre>
          <p>For many machines at once, <a href="/earn/add">mint an enrollment token</a>.</p>
        </section>
        """

    static let earnAdd = """
        <h1>Add nodes with a token</h1>
        {{#created}}
        <section class="card created">
          <h2>Your enrollment token</h2>
          <p><strong>Copy it now: it is not shown again.</strong> It enrolls up to {{uses}} machine(s) until {{expires}}.</p>
          <div class="copy-row">
            <input id="enrollment-token" class="mono" type="text" readonly value="{{token}}" aria-label="Enrollment token">
            <button type="button" data-copy="enrollment-token">Copy</button>
          </div>
          <p>On each machine (cloud-init, a provisioning script):</p>
          <pre class="mono" id="enroll-commands">porten enroll {{token}} --hub {{base}}
        porten service install</pre>
        </section>
        {{/created}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <section class="card">
        <h2>Mint a token</h2>
        <form method="post" action="/earn/add" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <div class="row">
            <label>Machines it may enroll <input type="number" name="uses" min="1" max="10000" value="10" required></label>
            <label>Valid for (hours) <input type="number" name="hours" min="1" max="8760" value="24" required></label>
            <label>Name new nodes <input type="text" name="name_prefix" value="node" maxlength="40" required></label>
          </div>
          <button type="submit">Mint token</button>
        </form>
        </section>
        <section>
        <h2>Tokens</h2>
        {{^tokens}}<p class="muted">None yet.</p>{{/tokens}}
        {{#hasTokens}}
        <div class="table-wrap">
        <table>
          <thead><tr><th>Token</th><th>Names</th><th class="num">Used</th><th>Expires</th><th></th></tr></thead>
          <tbody>
          {{#tokens}}
          <tr{{^live}} class="revoked"{{/live}}>
            <td class="mono">{{prefix}}</td><td>{{namePrefix}}-n</td><td class="num">{{uses}} / {{usesAllowed}}</td><td>{{expires}}</td>
            <td>{{#live}}<form method="post" action="/earn/tokens/revoke"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><button type="submit" class="danger" aria-label="Revoke {{prefix}}">Revoke</button></form>{{/live}}{{^live}}{{state}}{{/live}}</td>
          </tr>
          {{/tokens}}
          </tbody>
        </table>
        </div>
        {{/hasTokens}}
        </section>
        """

    static let device = """
        <section class="narrow">
        <h1>Connect a machine</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        {{#pending}}
        <p>A machine calling itself <strong>{{machineName}}</strong> asks to serve as a node of <strong>{{account}}</strong>.
        It will be placed in region <strong>{{region}}</strong> with trust class <strong>{{trustClass}}</strong>.</p>
        <p>Approve only if you just ran <code>porten login</code> and it shows <strong class="mono">{{userCode}}</strong>.</p>
        <form method="post" action="/device" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="user_code" value="{{userCode}}">
          <label>Node name <input type="text" name="name" value="{{machineName}}" maxlength="200" required></label>
          <div class="row actions">
            <button type="submit" name="decision" value="approve" id="approve">Approve</button>
            <button type="submit" name="decision" value="deny" class="secondary" id="deny">Deny</button>
          </div>
        </form>
        {{/pending}}
        {{^pending}}
        <form method="get" action="/device" class="stack">
          <label>The code <code>porten login</code> shows <input type="text" name="user_code" value="{{typed}}" autocomplete="off" autocapitalize="characters" placeholder="BCDF-GHJK" required autofocus></label>
          <button type="submit">Continue</button>
        </form>
        {{/pending}}
        </section>
        """

    static let deviceDone = """
        <section class="narrow">
        <h1>{{heading}}</h1>
        <p class="{{style}}" role="status">{{message}}</p>
        <p><a href="/earn">Your nodes</a></p>
        </section>
        """
}
