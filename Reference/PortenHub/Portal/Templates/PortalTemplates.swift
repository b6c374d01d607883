/// The portal's Mustache templates, compiled into the binary. Every value is written with
/// `{{…}}` (HTML-escaped); the layout alone inserts the rendered page with `{{{body}}}`.
enum PortalTemplates {
    static let all: [String: String] = [
        "layout": layout, "error": error, "signin": signIn, "set-password": setPassword, "signup": signUp,
        "keys": keys, "playground": playground, "usage": usage,
        "earn": earn, "earn-add": earnAdd, "device": device, "device-done": deviceDone,
        "admin-fleet": adminFleet, "admin-catalog": adminCatalog, "admin-nodes": adminNodes, "admin-accounts": adminAccounts,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="csrf-token" content="{{csrf}}">
        <title>{{title}} · Porten</title>
        <link rel="stylesheet" href="/static/portal.css">
        </head>
        <body>
        <header class="top">
          <a class="brand" href="/">Porten</a>
          {{#user}}
          <nav aria-label="Portal">
            {{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{title}}</a>{{/nav}}
          </nav>
          <form class="signout" method="post" action="/signout">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <span class="who" title="{{email}}">{{name}} · {{account}}</span>
            <button type="submit" class="link">Sign out</button>
          </form>
          {{/user}}
        </header>
        <main>
        {{{body}}}
        </main>
        <script src="/static/portal.js"></script>
        {{#scripts}}<script src="{{src}}"></script>{{/scripts}}
        </body>
        </html>
        """

    static let error = """
        <section class="narrow">
        <h1>{{heading}}</h1>
        <p class="error" role="alert">{{message}}</p>
        <p><a href="{{back}}">{{backLabel}}</a></p>
        </section>
        """

    static let signIn = """
        <section class="narrow">
        <h1>Sign in</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/signin" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="next" value="{{next}}">
          <label>Email <input type="email" name="email" value="{{email}}" autocomplete="username" required autofocus></label>
          <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
          <button type="submit">Sign in</button>
        </form>
        {{#signupAllowed}}<p>No account yet? <a href="/signup">Create one</a>.</p>{{/signupAllowed}}
        </section>
        """

    static let setPassword = """
        <section class="narrow">
        <h1>Set your password</h1>
        <p>For <strong>{{email}}</strong>. Use at least 10 characters.</p>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/set-password" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="token" value="{{token}}">
          <input type="text" name="username" value="{{email}}" autocomplete="username" hidden>
          <label>New password <input type="password" name="password" autocomplete="new-password" minlength="10" required autofocus></label>
          <label>Repeat it <input type="password" name="repeat" autocomplete="new-password" minlength="10" required></label>
          <button type="submit">Set password and sign in</button>
        </form>
        </section>
        """

    static let signUp = """
        <section class="narrow">
        <h1>Create an account</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/signup" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label>Your name <input type="text" name="display_name" value="{{displayName}}" autocomplete="name" required maxlength="200"></label>
          <label>Email <input type="email" name="email" value="{{email}}" autocomplete="username" required></label>
          <label>Password <input type="password" name="password" autocomplete="new-password" minlength="10" required></label>
          <button type="submit">Create account</button>
        </form>
        <p>Already have one? <a href="/signin">Sign in</a>.</p>
        </section>
        """
}
